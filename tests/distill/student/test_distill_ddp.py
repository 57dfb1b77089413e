"""`c4u distill` under two-process data parallelism (CPU, gloo): one student, one log, one report.

`accelerate launch --num_processes 2 --cpu` in accelerate 1.15 starts a single process for CPU
runs (its "simple" launcher); its multi-process launcher is torchrun, used here directly (this
interpreter's, so the ranks run the code under test).
"""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from creative4u_small.contract.pairs import TeacherLabel, load_pairs, write_pairs


@pytest.mark.slow
def test_two_process_ddp_run(tiny_model_dir, synth_pairs_file, tmp_path):
    pairs = load_pairs(synth_pairs_file)[:16]
    labels = tmp_path / "labelled.jsonl"
    write_pairs([replace(p, teacher=TeacherLabel(0.8 if p.label == "A" else 0.2, p.label, [p.rationale])) for p in pairs], labels)
    out = tmp_path / "ddp"
    c4u = str(Path(sys.executable).with_name("c4u"))  # the console script itself, not a shell shim
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", c4u, "distill", "--student", str(tiny_model_dir), "--labels", str(labels),
           "--out", str(out), "--max-steps", "3", "--batch-size", "4", "--max-rationale-tokens", "32", "--save-steps", "2"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert report["steps"] == 3 and report["epochs"] == 1.5  # 2 ranks x 4 pairs per step over 16 pairs
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2, 3]
