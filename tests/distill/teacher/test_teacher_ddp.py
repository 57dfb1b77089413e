"""The teacher trainers run unchanged under `accelerate launch` with two CPU processes (DDP, gloo).

accelerate 1.x starts a single process for `--cpu --num_processes 2` unless MPI is set up, so the
test launches with `--multi_gpu --num_processes 2` and ACCELERATE_USE_CPU=true: torchrun starts
two processes and accelerate sets them up as MULTI_CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def c4u_script() -> str:
    script = Path(sys.executable).parent / "c4u"
    if not script.is_file():
        pytest.skip("the c4u console script is not installed next to this interpreter")
    return str(script)


def launch(args, tmp_path):
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    # this interpreter's accelerate (not whichever is first on PATH), so the ranks run the code under test
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517", c4u_script(), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()  # the summary is the last pretty-printed object
    start = max(i for i, line in enumerate(lines) if line == "{")
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    return json.loads("\n".join(lines[start: end + 1]))


@pytest.mark.slow
def test_sft_then_grpo_under_two_cpu_processes(tiny_model_dir, synth_pairs_file, tmp_path):
    from creative4u_small.modeling.checkpoint import load_model

    data = tmp_path / "pairs.jsonl"
    lines = []
    for text in synth_pairs_file.read_text().splitlines()[:4]:
        rec = json.loads(text)
        for k in ("image_a", "image_b"):
            rec[k] = str(synth_pairs_file.parent / rec[k])
        lines.append(json.dumps(rec))
    data.write_text("\n".join(lines) + "\n")
    sft = launch(["teacher", "sft", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(tmp_path / "sft"),
                  "--max-steps", "2", "--batch-size", "2"], tmp_path)
    assert sft["processes"] == 2 and sft["global_step"] == 2 and sft["weights_changed"]
    load_model(tmp_path / "sft")
    grpo = launch(["teacher", "grpo", "--model", str(tmp_path / "sft"), "--data", str(data), "--out", str(tmp_path / "grpo"),
                   "--max-steps", "1", "--batch-size", "2", "--num-generations", "2", "--max-completion-length", "8"], tmp_path)
    assert grpo["processes"] == 2 and grpo["global_step"] == 1
    load_model(tmp_path / "grpo")
