"""Append-and-resume JSONL outputs shared by `c4u label` and `c4u data annotate` (their runs are tested beside them)."""

import json
from types import SimpleNamespace

import pytest

from creative4u_small.scale.resumable_jsonl import append_lines, in_batches, prepare_output, read_done_ids


def test_read_done_ids_refuses_a_bad_line_in_the_middle(tmp_path):
    out = tmp_path / "mid.jsonl"
    out.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_done_ids(out)


def test_a_truncated_last_line_is_cut_with_a_warning(tmp_path):
    out = tmp_path / "cut.jsonl"
    append_lines(out, [{"id": "a"}, {"id": "b"}])
    with open(out, "a") as fh:
        fh.write('{"id": "c", "te')
    warnings = []
    assert read_done_ids(out, warn=warnings.append) == {"a", "b"}
    assert len(warnings) == 1 and "truncated" in warnings[0]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "b"]


def test_prepare_output_resumes_refuses_or_starts_over(tmp_path):
    pairs = [SimpleNamespace(id=i) for i in "abc"]
    out = tmp_path / "o.jsonl"
    append_lines(out, [{"id": "a"}])

    def config(**kw):
        return SimpleNamespace(**{"out": str(out), "pairs": "in.jsonl", "resume": True, "overwrite": False, **kw})

    assert prepare_output(config(), pairs, print, "labels") == {"a"}
    with pytest.raises(FileExistsError, match="already holds labels"):
        prepare_output(config(resume=False), pairs, print, "labels")
    assert prepare_output(config(resume=False, overwrite=True), pairs, print, "labels") == set() and not out.exists()
    append_lines(out, [{"id": "z"}])
    with pytest.raises(ValueError, match="not in in.jsonl"):
        prepare_output(config(), pairs, print, "labels")


def test_batches_report_progress_after_each_is_handled():
    seen = []
    for batch in in_batches(list(range(5)), 2, done=10, total=15, progress=lambda d, t: seen.append(("progress", d, t))):
        seen.append(("batch", batch))
    assert seen == [("batch", [0, 1]), ("progress", 12, 15), ("batch", [2, 3]), ("progress", 14, 15),
                    ("batch", [4]), ("progress", 15, 15)]
