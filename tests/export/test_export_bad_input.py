"""Bad input gets one clear error and leaves nothing half-written."""

from __future__ import annotations

import json
import shutil

import pytest

from creative4u_small.export.export_config import ExportConfig
from creative4u_small.runtime import manifest as mf


def _siblings(out):
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}"))


def test_unsupported_architecture(tmp_path):
    from creative4u_small.export.exporter import run_export

    model = tmp_path / "llama"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "llama"}))
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="model type 'llama' cannot be a student; supported students: .*idefics3.*smolvlm"):
        run_export(ExportConfig(model=model, out=out))
    assert not out.exists() and not _siblings(out)


def test_checkpoint_without_verdict_tokens(tiny_model_dir, tmp_path):
    from tokenizers import AddedToken
    from transformers import AutoProcessor

    from creative4u_small.contract.protocol import VerdictTokenError
    from creative4u_small.export.exporter import run_export

    model = tmp_path / "no-verdicts"
    shutil.copytree(tiny_model_dir, model)
    processor = AutoProcessor.from_pretrained(model)
    # "<answer>A" becomes one token, so "A" after <answer> is no longer a token of its own
    processor.tokenizer.add_tokens([AddedToken("<answer>A", normalized=False)], special_tokens=True)
    processor.save_pretrained(model)
    out = tmp_path / "out"
    with pytest.raises(VerdictTokenError, match="verdict 'A' is not a single token"):
        run_export(ExportConfig(model=model, out=out))
    assert not out.exists() and not _siblings(out)


def test_calib_file_with_bad_lines(tiny_model_dir, synth_pairs_file, tmp_path):
    from creative4u_small.contract.pairs import PairsError
    from creative4u_small.export.exporter import run_export

    lines = synth_pairs_file.read_text().splitlines()
    bad = synth_pairs_file.parent / "bad_calib.jsonl"  # beside img/ so the good lines' paths resolve
    first = json.loads(lines[1])
    first["label"] = "C"
    try:
        bad.write_text("\n".join([lines[0], json.dumps(first), "{not json", *lines[2:5]]) + "\n")
        out = tmp_path / "out"
        with pytest.raises(PairsError, match=r"bad_calib.jsonl:2: label: .*'C'.*and 1 more"):
            run_export(ExportConfig(model=tiny_model_dir, out=out, calib=bad))
        assert not out.exists() and not _siblings(out)
    finally:
        bad.unlink(missing_ok=True)


def test_output_folder_with_an_older_export(tiny_model_dir, tmp_path):
    from creative4u_small.export.exporter import run_export

    out = tmp_path / "old"
    out.mkdir()
    (out / mf.MANIFEST_FILE).write_text(json.dumps({"format_version": 0}))
    (out / "judge.onnx").write_bytes(b"old graph")
    with pytest.raises(FileExistsError, match="already holds an export .*format_version 0.*--overwrite"):
        run_export(ExportConfig(model=tiny_model_dir, out=out))
    assert (out / "judge.onnx").read_bytes() == b"old graph" and not _siblings(out)


def test_crash_mid_export_leaves_nothing_and_keeps_the_old_export(tiny_model_dir, tmp_path, monkeypatch):
    from creative4u_small.export import graphs
    from creative4u_small.export.exporter import run_export

    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash while exporting the judge graph")

    monkeypatch.setattr(graphs, "export_judge", boom)
    cfg = dict(model=tiny_model_dir, calib_pairs=2, decoder=False, prefer_dynamo=False, threads=1)
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_export(ExportConfig(out=fresh, **cfg))
    assert not fresh.exists() and not _siblings(fresh)

    old = tmp_path / "old"
    old.mkdir()
    (old / mf.MANIFEST_FILE).write_text('{"format_version": 1}')
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_export(ExportConfig(out=old, overwrite=True, **cfg))
    assert (old / mf.MANIFEST_FILE).read_text() == '{"format_version": 1}' and not _siblings(old)


def test_cli_bad_model_is_one_red_line(tmp_path):
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    result = CliRunner().invoke(app, ["export", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and result.output.startswith("error: ") and "config.json" in result.output


def test_config_validation():
    with pytest.raises(ValueError, match="opset 13 is too old"):
        ExportConfig(model="m", out="o", opset=13)
    with pytest.raises(ValueError, match="margin"):
        ExportConfig(model="m", out="o", margin=0.7)
    with pytest.raises(ValueError, match="int8_agreement"):
        ExportConfig(model="m", out="o", int8_agreement=99)
    assert all(f.metadata["help"] for f in ExportConfig.__dataclass_fields__.values())
