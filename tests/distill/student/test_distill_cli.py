"""`c4u distill` and `c4u eval` from the command line: JSON out, one red line on bad input."""

import json
from dataclasses import replace

from typer.testing import CliRunner

from creative4u_small.cli import app
from creative4u_small.contract.pairs import TeacherLabel, load_pairs, write_pairs


def test_distill_then_eval_from_the_cli(tiny_model_dir, synth_pairs_file, tmp_path):
    pairs = load_pairs(synth_pairs_file)[:8]
    labels = tmp_path / "labelled.jsonl"
    write_pairs([replace(p, teacher=TeacherLabel(0.8 if p.label == "A" else 0.2, p.label, [p.rationale])) for p in pairs], labels)
    out = tmp_path / "student"
    runner = CliRunner()
    res = runner.invoke(app, ["distill", "--student", str(tiny_model_dir), "--labels", str(labels), "--out", str(out),
                              "--max-steps", "2", "--batch-size", "4", "--rationale-weight", "0.1", "--max-rationale-tokens", "16"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["steps"] == 2
    res = runner.invoke(app, ["eval", "--model", str(out), "--pairs", str(labels), "--out", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["pairs"] == 8 and "teacher" in report
    assert json.loads((tmp_path / "r.json").read_text())["accuracy"] == report["accuracy"]


def test_bad_labels_give_one_line_and_non_zero_exit(tiny_model_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "image_a": "a.png", "image_b": "b.png"}\n')
    res = CliRunner().invoke(app, ["distill", "--student", str(tiny_model_dir), "--labels", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "bad.jsonl:1" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["eval", "--model", str(tmp_path / "missing"), "--pairs", str(bad)])
    assert res.exit_code != 0 and "Traceback" not in res.output
