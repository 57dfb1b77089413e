"""The README's real-world path, command for command, on hub-shaped checkpoints.

The commands are read from the README's "The real-world path" block and run in order through the
`c4u` app, with only paths replaced: the hub ids by hub-shaped folders (Qwen2.5-VL teacher, SmolVLM-256M-Instruct
student: their real config, processor and tokenizer files, shrunk random weights), the annotator URL by
a real OpenAI-compatible process on 127.0.0.1 answering from the synthetic pairs' known rationales,
and the images by synthetic creatives.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

README = Path(__file__).parents[1] / "README.md"
SERVER = Path(__file__).parent / "distill" / "openai_compatible_server.py"


def readme_commands() -> list[str]:
    text = README.read_text()
    block = text[text.index("## The real-world path"):]
    block = block[block.index("```bash") + len("```bash"): block.index("```", block.index("```bash") + 7)]
    return [line for line in block.splitlines() if line.startswith("c4u ")]


def write_ctr_log(pairs, log: Path) -> None:
    """Impression/click rows that make exactly these pairs (same product and query, a wide CTR gap)."""
    rows = []
    for p in pairs:
        for image, wins in ((p.image_a, p.label == "A"), (p.image_b, p.label == "B")):
            rows.append({"product_id": p.id, "query": p.query, "title": p.title, "image": str(image),
                         "impressions": 5000, "clicks": 150 if wins else 50})
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def snapshot(folder: Path) -> dict:
    import hashlib

    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir()) if f.is_file()}


@pytest.fixture
def annotator(synth_pairs_file, tmp_path):
    port_file = tmp_path / "port.txt"
    proc = subprocess.Popen([sys.executable, str(SERVER), "--pairs", str(synth_pairs_file), "--port-file", str(port_file),
                             "--log", str(tmp_path / "server.jsonl"), "--key", "k3y"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while not port_file.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"annotator did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port_file.read_text()}/v1"
    proc.terminate()
    proc.wait(10)


def test_the_readme_real_world_path_runs_end_to_end(hub_qwen25vl, hub_smolvlm, annotator, synth_pairs, tmp_path, monkeypatch):
    from creative4u_small.cli import app
    from creative4u_small.contract.pairs import load_pairs, write_pairs

    commands = readme_commands()
    assert [c.split()[1] for c in commands] == ["data", "data", "data", "teacher", "teacher", "label", "distill", "eval",
                                                "export", "select", "rank", "bench"]
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("VLLM_API_KEY", "k3y")
    train, rest = synth_pairs[:3], synth_pairs[3:9]
    write_ctr_log(train, work / "logs" / "ctr.jsonl")
    write_pairs([p for p in rest[:3]], work / "data" / "unlabelled.jsonl")
    write_pairs(rest[3:], work / "data" / "heldout_labelled.jsonl")
    write_pairs(rest[3:], work / "data" / "heldout.jsonl")
    (work / "creatives").mkdir()
    for p in rest[:3]:
        (work / "creatives" / Path(p.image_a).name).write_bytes(Path(p.image_a).read_bytes())
    paths = {"Qwen/Qwen2.5-VL-7B-Instruct": str(hub_qwen25vl), "HuggingFaceTB/SmolVLM-256M-Instruct": str(hub_smolvlm),
             "http://gpu-box:8000/v1": annotator, "a.jpg": str(rest[0].image_a), "b.jpg": str(rest[0].image_b)}
    shipped = {d: snapshot(d) for d in (hub_qwen25vl, hub_smolvlm)}
    runner = CliRunner()
    for command in commands:
        args = shlex.split(command)[1:]
        args = [paths.get(a, a) for a in args]
        result = runner.invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, f"{command}\n{result.output[-3000:]}"
    assert len(load_pairs(work / "data" / "cot_pairs.jsonl")) == 3  # every annotation parsed and agreed
    teacher_report = json.loads((work / "models" / "teacher-sft" / "c4u_provenance.json").read_text())
    assert teacher_report["results"]["added_tokens"] == ["<think>", "</think>", "<answer>", "</answer>"]
    labelled = load_pairs(work / "data" / "labelled.jsonl")
    assert len(labelled) == 3 and all(0.0 < p.teacher.p_a < 1.0 for p in labelled)
    student = json.loads((work / "models" / "student" / "report.json").read_text())
    assert student["frames"]["changed"]["do_image_splitting"] == [True, False]
    manifest = json.loads((work / "exports" / "student" / "manifest.json").read_text())
    assert manifest["parity"]["fp32"]["max_abs_dlogit"] <= 1e-4 and "int8" in manifest["parity"]
    assert (work / "exports" / "student" / "triton").is_dir() and (work / "bench.png").is_file()
    assert shipped == {d: snapshot(d) for d in (hub_qwen25vl, hub_smolvlm)}  # the shipped files stay untouched
