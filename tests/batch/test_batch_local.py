"""`c4u batch --engine local`: this process or N processes give the single-process answers; outputs are whole,
each id once, resumable (JSONL and Parquet); bad rows go to the rejects file and the job goes on; a killed worker
process or an interrupted driver loses nothing."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import psutil
import pytest
from batch_cases import SELECTOR, assert_matches, batch_config, c4u_without_torch, group_images, read_rows
from PIL import Image

from creative4u_small.batch.run_batch import run_batch
from creative4u_small.scale.job_tally import JobTally


def test_one_process_and_two_processes_give_the_single_process_answers(tiny_export, groups_file, reference, tmp_path):
    one = run_batch(batch_config(tiny_export, groups_file, tmp_path / "one.jsonl"))
    two = run_batch(batch_config(tiny_export, groups_file, tmp_path / "two.parquet", workers=2))
    assert_matches(read_rows(tmp_path / "one.jsonl"), reference)
    assert_matches(read_rows(tmp_path / "two.parquet"), reference)
    assert one["done"] == two["done"] == 40 and one["rejected"] == two["rejected"] == 0
    assert len(one["workers"]) == 1 and len(two["workers"]) == 2 and os.getpid() not in {w["pid"] for w in two["workers"]}
    assert not any(w["torch_loaded"] for w in two["workers"])  # (this test process has torch: the fixtures built the model)
    pair = next(r for r in read_rows(tmp_path / "one.jsonl") if r["id"] == "synth-000000")
    assert set(pair) == {"id", "ranking", "scores", "winner", "p_a"}  # no rationale unless asked
    provenance = json.loads((tmp_path / "two.parquet.c4u_provenance.json").read_text())
    assert provenance["stage"] == "batch" and provenance["config"]["workers"] == 2 and provenance["results"]["done"] == 40


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_rerun_skips_what_is_written_and_writes_no_id_twice(tiny_export, groups_file, reference, tmp_path, suffix):
    out = tmp_path / f"ranked{suffix}"
    first = run_batch(batch_config(tiny_export, groups_file, out))
    again = run_batch(batch_config(tiny_export, groups_file, out))
    assert (first["done"], again["already_done"], again["done"]) == (40, 40, 0)
    assert_matches(read_rows(out), reference)


def test_a_torn_last_line_is_cut_and_the_rest_is_written(tiny_export, groups_file, reference, tmp_path):
    """What a driver killed mid-write leaves: complete lines and a torn one. The rerun drops the torn line (and says
    so), keeps the complete ones and writes the rest."""
    out = tmp_path / "ranked.jsonl"
    run_batch(batch_config(tiny_export, groups_file, out))
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:10]) + lines[10][:25])
    warnings = []
    summary = run_batch(batch_config(tiny_export, groups_file, out), warn=warnings.append)
    assert summary["already_done"] == 10 and summary["done"] == 30
    assert any("truncated" in w for w in warnings)
    assert_matches(read_rows(out), reference)


def test_an_output_of_another_run_is_refused(tiny_export, groups_file, tmp_path):
    out = tmp_path / "ranked.jsonl"
    out.write_text(json.dumps({"id": "not-in-these-groups", "ranking": [0, 1], "scores": [0, 0]}) + "\n")
    with pytest.raises(ValueError, match="another run"):
        run_batch(batch_config(tiny_export, groups_file, out))
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_batch(batch_config(tiny_export, groups_file, out, resume=False))
    assert json.loads(out.read_text())["id"] == "not-in-these-groups"  # nothing written over it


def _bad_groups(folder: Path, synth_dir: Path) -> Path:
    good = [str(p) for p in sorted((synth_dir / "img").glob("*.png"))[:3]]
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(folder / "big.png")
    rows = [
        {"id": "ok", "images": good, "query": "red kettle"},
        {"id": "missing", "images": [good[0], "gone.png"]},
        {"id": "corrupt", "images": [good[0], "corrupt.png"]},
        {"id": "too-many-pixels", "images": [good[0], "big.png"]},
        {"id": "long-query", "images": good[:2], "query": "kettle " * 400},
        {"id": "one-image", "images": good[:1]},
        {"id": "bad-top-k", "images": good, "top_k": 0},
        {"id": "ok-pair", "image_a": good[1], "image_b": good[2]},
    ]
    path = folder / "groups.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bad_rows_go_to_the_rejects_file_with_their_reason_and_the_job_goes_on(tiny_export, synth_dir, tmp_path):
    groups = _bad_groups(tmp_path, synth_dir)
    out = tmp_path / "ranked.jsonl"
    selector = dataclasses.replace(SELECTOR, max_pixels=50_000, strict_text=True)
    summary = run_batch(batch_config(tiny_export, groups, out, selector=selector))
    assert sorted(r["id"] for r in read_rows(out)) == ["ok", "ok-pair"]
    rejects = {r["id"]: r["reason"] for r in read_rows(tmp_path / "ranked.jsonl.rejects.jsonl")}
    assert summary["rejected"] == len(rejects) == 6
    assert "images[1]" in rejects["missing"] and "gone.png" in rejects["missing"] and "not found" in rejects["missing"]
    assert "corrupt.png" in rejects["corrupt"] and "image" in rejects["corrupt"]
    assert "big.png" in rejects["too-many-pixels"] and "--max-pixels" in rejects["too-many-pixels"]
    assert "query" in rejects["long-query"] and "budget" in rejects["long-query"]
    assert "at least 2 images" in rejects["one-image"] and "line 6" in rejects["one-image"]
    assert "top_k" in rejects["bad-top-k"]

    small = run_batch(batch_config(tiny_export, groups, out, selector=selector, max_image_mb=0.01))  # the rerun tries them again
    assert small["already_done"] == 2 and small["done"] == 0 and small["rejected"] == 6
    assert "MiB" in {r["id"]: r["reason"] for r in read_rows(tmp_path / "ranked.jsonl.rejects.jsonl")}["too-many-pixels"]


def test_a_file_that_cannot_be_read_whole_is_refused_before_anything_is_written(tiny_export, tmp_path):
    groups = tmp_path / "groups.jsonl"
    groups.write_text('{"id": "a", "images": ["x.png", "y.png"]}\n{"id": "a", "images": ["x.png", "y.png"]}\n')
    with pytest.raises(ValueError, match="line 2 repeats the id 'a'"):
        run_batch(batch_config(tiny_export, groups, tmp_path / "out.jsonl"))
    groups.write_text('{"id": "a", "images": ["x.png", "y.png"]}\n{"id": "b", "images": \n')
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        run_batch(batch_config(tiny_export, groups, tmp_path / "out.jsonl"))
    assert not (tmp_path / "out.jsonl").exists()


def test_groups_from_parquet_with_image_uris(tiny_export, groups_file, reference, tmp_path):
    """The same groups as a Parquet file whose images are file:// URIs (read through pyarrow, as s3:// would be)."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [{"id": g["id"], "query": g.get("query", ""), "title": g.get("title", ""), "top_k": g.get("top_k"),
             "images": [Path(i).as_uri() for i in g["images"]]} for g in group_images(groups_file).values()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "groups.parquet")
    summary = run_batch(batch_config(tiny_export, tmp_path / "groups.parquet", tmp_path / "out.jsonl"))
    assert summary["done"] == 40
    assert_matches(read_rows(tmp_path / "out.jsonl"), reference)


def _pool_workers() -> list[int]:
    return [p.pid for p in psutil.Process().children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]


def test_a_killed_worker_process_has_its_batches_sent_again(tiny_export, groups_file, reference_explained, tmp_path, monkeypatch):
    """SIGKILL to the worker whose batch came back first, as it comes back (it is on its next one): the pool breaks,
    the batches in flight go to a fresh pool, and the writer keeps every id once."""
    out = tmp_path / "ranked.jsonl"
    killed: list[int] = []
    add = JobTally.add

    def add_then_kill(self, records):
        add(self, records)
        if not killed:
            killed.append(records[0]["worker"]["pid"])
            assert killed[0] in _pool_workers()
            os.kill(killed[0], signal.SIGKILL)

    monkeypatch.setattr(JobTally, "add", add_then_kill)
    summary = run_batch(batch_config(tiny_export, groups_file, out, workers=2, explain=True, groups_per_batch=2))
    assert summary["retried"] >= 2 and summary["done"] == 40, summary
    assert_matches(read_rows(out), reference_explained)
    assert killed[0] in {w["pid"] for w in summary["workers"]} and len(summary["workers"]) >= 3  # a fresh pool took over


def test_a_driver_stopped_by_sigterm_or_kill9_reruns_to_the_whole_file(tiny_export, groups_file, reference_explained, tmp_path):
    out = tmp_path / "ranked.jsonl"
    cmd = c4u_without_torch("--export", str(tiny_export), "--groups", str(groups_file), "--out", str(out), "--backend", "cpu",
                             "--threads", "1", "--explain", "--groups-per-batch", "1")
    for sig, code in ((signal.SIGTERM, 130), (signal.SIGKILL, -9)):
        before = len(read_rows(out)) if out.exists() else 0
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:
            if line.startswith("batch: ") and "/40" in line:  # a plain progress line (stderr is no terminal)
                proc.send_signal(sig)
                break
        proc.communicate(timeout=60)
        assert proc.returncode == code
        assert before < len(read_rows(out)) < 40
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch imported: False" in done.stderr
    assert json.loads(done.stdout)["done"] == 40 - json.loads(done.stdout)["already_done"]
    assert_matches(read_rows(out), reference_explained)
