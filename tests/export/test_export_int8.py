"""INT8 export of a trained tiny model meets its agreement floor on 50 held-out synthetic pairs."""

from __future__ import annotations

import json

import pytest

from creative4u_small.runtime import manifest as mf


def test_trained_model_is_decisive_and_int8_meets_floor(trained_export):
    out, summary = trained_export
    parity = json.loads((out / mf.MANIFEST_FILE).read_text())["parity"]
    fp32, int8 = parity["fp32"], parity["int8"]
    assert fp32["pairs"] == int8["pairs"] == 50
    # decisive pairs are what make agreement meaningful; an untrained model has none
    assert fp32["decisive"] >= fp32["min_decisive"], "training did not make the tiny model decisive"
    assert fp32["status"] == "passed" and fp32["agreement"] == 1.0 and fp32["max_abs_dp_a"] <= 1e-4
    assert int8["status"] == "passed" and int8["agreement"] >= 0.99
    assert int8["max_abs_dlogit"] > 0  # really a different (quantized) graph
    assert int8["floor_max_dp_a"] == 0.05 and int8["max_abs_dp_a"] <= 0.05
    assert mf.read_manifest(out).probe["export_machine"]["int8"]["verdict"]["status"] == "passed"
    # end to end through the torch-free runtime (numpy preprocessing, prompt assembled from the manifest)
    assert parity["runtime-fp32"]["status"] == "passed" and parity["runtime-fp32"]["max_abs_dp_a"] <= 1e-4
    assert summary["status"] == "passed"
    assert (out / mf.PARITY_FILE).read_text().startswith("# Parity report — PASSED")


def test_fp16_graphs_meet_their_floor_with_the_runtime_dtypes(trained_export):
    out, _ = trained_export
    m = mf.read_manifest(out)
    fp16 = m.parity["fp16"]
    assert fp16["status"] == "passed" and fp16["agreement"] >= 0.99 and fp16["max_abs_dp_a"] <= fp16["floor_max_dp_a"] == 0.01
    assert fp16["max_abs_dlogit"] > 0 and "CPUExecutionProvider" in fp16["provider"]
    assert m.probe["export_machine"]["fp16"]["verdict"]["status"] == "passed"
    for graph in ("vision", "judge"):
        entry, fp32 = m.graphs[f"{graph}.fp16"], m.graphs[graph]
        assert entry.precision == "fp16" and entry.source == graph and entry.inputs == fp32.inputs and entry.outputs == fp32.outputs
        assert entry.optimization == fp32.optimization and "Softmax" in entry.quantization["kept_fp32"]


def test_selector_runs_fp16_graphs_and_a_gpu_picks_them_by_default(trained_export, heldout_pairs_file, monkeypatch):
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.runtime import Selector, choice
    from creative4u_small.runtime.engines import ort_engine
    from creative4u_small.runtime.selector_config import SelectorConfig

    out, _ = trained_export
    pair = load_pairs(heldout_pairs_file)[-1]
    fp16 = Selector.load(out, backend="cpu", precision="fp16", threads=1)
    fp32 = Selector.load(out, backend="cpu", precision="fp32", threads=1)
    assert fp16.graph_keys["judge"] == "judge.fp16" and fp16.precision == "fp16"
    assert fp16.describe()["probe"]["verdict"]["precision"] == "fp16"
    got, want = (s.compare(pair.image_a, pair.image_b, pair.query, pair.title).p_a for s in (fp16, fp32))
    assert 0 < abs(got - want) <= 0.01
    m = mf.read_manifest(out)
    int8_holds = m.shift["variants"]["int8"]["status"] == "passed" and m.parity["int8"]["status"] == "passed"
    monkeypatch.setattr(ort_engine, "ort_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    picked = choice.choose(out, m, SelectorConfig())
    assert (picked.engine.name, picked.precision) == ("cuda", "fp16")
    m.parity["fp16"]["status"] = "failed"
    picked = choice.choose(out, m, SelectorConfig())
    assert (picked.engine.name, picked.precision) == ("cuda", "int8" if int8_holds else "fp32")
    assert {(p["backend"], p.get("precision")): p["reason"] for p in picked.passed_over}[("cuda", "fp16")] == "the export's fp16 parity failed"


def test_int8_graphs_are_made_from_the_fused_graphs(trained_export):
    out, _ = trained_export
    m = mf.read_manifest(out)
    assert "MultiHeadAttention" in m.graphs["vision"].optimization["fused"]
    assert m.graphs["vision.int8"].optimization == m.graphs["vision"].optimization


def test_int8_graphs_are_quantized(trained_export):
    import onnx

    out, _ = trained_export
    m = mf.read_manifest(out)
    assert m.graphs["vision.int8"].precision == m.graphs["judge.int8"].precision == "int8"
    assert "vision.int8-qdq" not in m.graphs  # static QDQ graphs are built for TensorRT only
    for key in ("vision.int8", "judge.int8"):
        ops = {n.op_type for n in onnx.load(str(out / m.graphs[key].file)).graph.node}
        assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops, key


def test_failed_parity_is_written_marked_failed_and_raises(trained_tiny_dir, heldout_pairs_file, tmp_path):
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import ParityFailed, run_export

    out = tmp_path / "strict"
    cfg = ExportConfig(model=trained_tiny_dir, out=out, decoder=False, calib=heldout_pairs_file, calib_pairs=10,
                       fp32_max_dp=1e-15, min_decisive=1, threads=1,
                       prefer_dynamo=False)  # also covers the TorchScript exporter, and is faster
    with pytest.raises(ParityFailed, match="parity FAILED"):
        run_export(cfg)
    m = mf.read_manifest(out)
    assert m.status == "failed" and m.parity["fp32"]["status"] == "failed"
    assert "above the ceiling" in m.parity["fp32"]["reason"]
    assert {m.graphs[k].exporter for k in ("vision", "judge")} == {"torchscript"}
    assert m.parity["fp32"]["max_abs_dlogit"] < 1e-4  # the TorchScript graphs are right; only the absurd floor fails
    assert (out / mf.PARITY_FILE).read_text().startswith("# Parity report — FAILED")


def test_cli_failed_parity_exits_non_zero_with_one_line(trained_tiny_dir, heldout_pairs_file, tmp_path):
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    out = tmp_path / "cli-strict"
    args = ["export", "--model", str(trained_tiny_dir), "--out", str(out), "--calib", str(heldout_pairs_file),
            "--calib-pairs", "10", "--no-decoder", "--no-dynamo", "--threads", "1", "--fp32-max-dp", "1e-15", "--min-decisive", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3 and "Traceback" not in result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "parity FAILED" in errors[0] and "marked failed" in errors[0]
    assert mf.read_manifest(out).status == "failed"


def test_calibration_budget_and_split():
    import numpy as np

    from creative4u_small.export.quantize import calibration_budget, split_feeds, vision_bytes_per_image

    per_image = vision_bytes_per_image(layers=12, patches=1024, hidden=768, intermediate=3072)  # SmolVLM-256M's vision
    assert 500 << 20 < per_image < 700 << 20
    assert calibration_budget(per_image, 4096, available=16) == 7  # 4 GiB // 576 MiB
    assert calibration_budget(per_image, 1, available=16) == 2 and calibration_budget(10, 4096, available=5) == 5
    feeds = split_feeds([{"x": np.zeros((5, 3)), "m": np.ones((5, 2))}], 2)
    assert [len(f["x"]) for f in feeds] == [2, 2, 1] and all(len(f["x"]) == len(f["m"]) for f in feeds)
