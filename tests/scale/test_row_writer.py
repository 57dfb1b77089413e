"""Rows written whole and once per id, to JSONL or Parquet (a journal beside it until ``finish``), resumed by id."""

from __future__ import annotations

import json

import pytest

from creative4u_small.scale.row_writer import RowWriter

pq = pytest.importorskip("pyarrow.parquet", reason="Parquet needs pyarrow (the ray extra)")
IDS = {f"g{i}" for i in range(6)}


def rows(*ids):
    return [{"id": i, "ranking": [1, 0], "scores": [0.1, -0.1]} for i in ids]


def test_jsonl_writes_each_id_once_and_a_rerun_continues(tmp_path):
    out = tmp_path / "out.jsonl"
    w = RowWriter(out, IDS, "groups.jsonl")
    assert w.write(rows("g0", "g1")) == 2 and w.write(rows("g1", "g2")) == 1  # g1 again: a retried batch
    again = RowWriter(out, IDS, "groups.jsonl")
    assert again.already == 3 and again.write(rows("g2", "g3")) == 1
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["g0", "g1", "g2", "g3"]


def test_parquet_goes_through_a_journal_and_survives_a_killed_writer(tmp_path):
    out = tmp_path / "out.parquet"
    w = RowWriter(out, IDS, "groups.jsonl")
    w.write(rows("g0", "g1"))
    assert not out.exists() and (tmp_path / "out.parquet.partial.jsonl").exists()
    with open(tmp_path / "out.parquet.partial.jsonl", "a") as fh:  # killed in the middle of a line
        fh.write('{"id": "g2", "rank')
    w2 = RowWriter(out, IDS, "groups.jsonl", warn=lambda msg: None)
    assert w2.done == {"g0", "g1"}
    w2.write(rows("g2"))
    w2.finish()
    assert not (tmp_path / "out.parquet.partial.jsonl").exists()
    assert pq.read_table(out).column("id").to_pylist() == ["g0", "g1", "g2"]

    w3 = RowWriter(out, IDS, "groups.jsonl")  # a rerun appends to the Parquet file through a new journal
    assert w3.already == 3 and w3.write(rows("g1", "g3")) == 1
    w3.finish()
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == ["g0", "g1", "g2", "g3"] and table.column("ranking").to_pylist()[3] == [1, 0]


def test_parquet_rows_in_both_file_and_journal_are_kept_once(tmp_path):
    """A writer killed between renaming the new Parquet file into place and removing the journal."""
    out = tmp_path / "out.parquet"
    w = RowWriter(out, IDS, "groups.jsonl")
    w.write(rows("g0", "g1"))
    journal = (tmp_path / "out.parquet.partial.jsonl").read_text()
    w.finish()
    (tmp_path / "out.parquet.partial.jsonl").write_text(journal)
    w2 = RowWriter(out, IDS, "groups.jsonl")
    w2.finish()
    assert pq.read_table(out).column("id").to_pylist() == ["g0", "g1"]


def test_an_output_of_another_run_is_refused_unless_overwritten(tmp_path):
    out = tmp_path / "out.parquet"
    w = RowWriter(out, {"x"}, "other.jsonl")
    w.write(rows("x"))
    w.finish()
    with pytest.raises(ValueError, match="another run"):
        RowWriter(out, IDS, "groups.jsonl")
    fresh = RowWriter(out, IDS, "groups.jsonl", resume=False, overwrite=True)
    assert fresh.already == 0 and not out.exists()
