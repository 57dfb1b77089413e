"""`c4u teacher sft|grpo` and `c4u label` from the command line: JSON out, one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from creative4u_small.cli import app


def pairs_file(synth_pairs_file, path, n=2, break_line=None):
    lines = []
    for i, text in enumerate(synth_pairs_file.read_text().splitlines()[:n]):
        rec = json.loads(text)
        for k in ("image_a", "image_b"):
            rec[k] = str(synth_pairs_file.parent / rec[k])
        if i == break_line:
            rec["image_a"] = str(path.parent / "gone.png")
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_label_command_writes_records_and_reports_json(tiny_model_dir, synth_pairs_file, tmp_path):
    data = pairs_file(synth_pairs_file, tmp_path / "p.jsonl", n=3)
    out = tmp_path / "labelled.jsonl"
    result = CliRunner().invoke(app, ["label", "--teacher", str(tiny_model_dir), "--pairs", str(data), "--out", str(out), "--k", "0"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["labelled_now"] == 3
    assert len(out.read_text().splitlines()) == 3


def test_sft_command_stops_on_a_missing_image_with_its_line(tiny_model_dir, synth_pairs_file, tmp_path):
    data = pairs_file(synth_pairs_file, tmp_path / "bad.jsonl", n=3, break_line=1)
    result = CliRunner().invoke(app, ["teacher", "sft", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(tmp_path / "o"), "--max-steps", "1"])
    assert result.exit_code != 0
    assert "bad.jsonl:2: image_a" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_grpo_command_refuses_an_occupied_folder(tiny_model_dir, synth_pairs_file, tmp_path):
    data = pairs_file(synth_pairs_file, tmp_path / "p.jsonl")
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = CliRunner().invoke(app, ["teacher", "grpo", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(out), "--max-steps", "1"])
    assert result.exit_code != 0 and "--overwrite" in result.output
    assert (out / "keep.txt").read_text() == "x"


def test_bad_option_values_are_one_line_errors(tiny_model_dir, synth_pairs_file, tmp_path):
    data = pairs_file(synth_pairs_file, tmp_path / "p.jsonl")
    result = CliRunner().invoke(app, ["teacher", "grpo", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(tmp_path / "g"), "--batch-size", "6", "--num-generations", "4"])
    assert result.exit_code != 0 and "multiple of num_generations" in result.output
    result = CliRunner().invoke(app, ["label", "--teacher", str(tiny_model_dir), "--pairs", str(data), "--out", str(tmp_path / "l.jsonl"), "--backend", "onnx"])
    assert result.exit_code != 0 and "backend must be one of" in result.output
