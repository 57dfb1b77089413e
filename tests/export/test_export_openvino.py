"""`c4u export --openvino`: fp32 IR, INT8 IR (dynamic by default: INT8 weights, run-time activation scales; static:
NNCF post-training INT8), parity gates, probe."""

from __future__ import annotations

import subprocess
import sys

import pytest
from openvino_support import needs_openvino

from creative4u_small.runtime import manifest as mf

pytestmark = needs_openvino


def test_trained_model_openvino_ir_meets_the_int8_floors(trained_export):
    out, summary = trained_export
    m = mf.read_manifest(out)
    fp32, int8 = m.parity["openvino-fp32"], m.parity["openvino-int8"]
    assert fp32["pairs"] == int8["pairs"] == 50 and fp32["decisive"] >= fp32["min_decisive"]
    assert fp32["status"] == "passed" and fp32["agreement"] == 1.0 and fp32["max_abs_dp_a"] <= 1e-4
    assert int8["status"] == "passed" and int8["agreement"] >= 0.99 and int8["max_abs_dp_a"] <= int8["floor_max_dp_a"] == 0.05
    assert int8["max_abs_dlogit"] > 0  # really a different (quantized) graph
    assert "calibration" not in int8  # run-time activation scales: nothing is calibrated
    for key in ("openvino-fp32", "openvino-int8"):
        assert m.probe["export_machine"][key]["verdict"]["status"] == "passed"
    assert summary["status"] == "passed"


def test_every_ir_is_in_the_manifest_with_its_weights_hashed(trained_export):
    out, _ = trained_export
    m = mf.read_manifest(out)
    for graph in (mf.VISION, mf.JUDGE, mf.JUDGE_EXTEND):
        fp32, int8 = m.graphs[f"{graph}.{mf.OPENVINO_FP32}"], m.graphs[f"{graph}.{mf.OPENVINO_INT8}"]
        assert (fp32.precision, fp32.exporter, fp32.source) == ("fp32", "openvino.convert_model", graph)
        assert (int8.precision, int8.exporter, int8.source) == ("int8", "nncf.compress_weights", graph)
        assert int8.inputs == m.graphs[graph].inputs and int8.outputs == m.graphs[graph].outputs
        for entry in (fp32, int8):
            weights = entry.file.replace(".xml", ".bin")
            assert entry.file in m.files and weights in m.files and (out / weights).stat().st_size > 0
        settings = int8.quantization
        assert settings["mode"].startswith("INT8_SYM") and settings["compile_properties"] == {"DYNAMIC_QUANTIZATION_GROUP_SIZE": "32"}
        assert (out / int8.file.replace(".xml", ".bin")).stat().st_size < (out / fp32.file.replace(".xml", ".bin")).stat().st_size


def test_the_runtime_compiles_int8_ir_with_the_manifests_activation_scales(trained_export):
    """The group size of the run-time activation scales comes from the manifest, set on compile_model."""
    from creative4u_small.runtime import Selector

    out, _ = trained_export
    sel = Selector.load(out, backend="openvino", precision="int8", threads=1)
    compiled = sel._graph(mf.JUDGE).compiled
    assert int(compiled.get_property("DYNAMIC_QUANTIZATION_GROUP_SIZE")) == 32


def test_static_int8_records_its_calibration_and_quantizes_every_weight_matmul(static_export):
    """--openvino-int8 static: the transformer preset quantizes every weight MatMul, the small ones included; what
    stays float is attention."""
    out = static_export
    m = mf.read_manifest(out)
    assert m.parity["openvino-int8"]["calibration"]["pairs"] == 50
    for graph in (mf.VISION, mf.JUDGE):
        settings = m.graphs[f"{graph}.{mf.OPENVINO_INT8}"].quantization
        assert m.graphs[f"{graph}.{mf.OPENVINO_INT8}"].exporter == "nncf.quantize"
        assert settings["model_type"] == "TRANSFORMER" and settings["overflow_fix"].startswith("ENABLE")
        assert settings["calibration"]["pairs"] == 50 and settings["calibration"]["vision_images"] == 100
    for graph in (mf.VISION, mf.JUDGE):
        kept = m.graphs[f"{graph}.{mf.OPENVINO_INT8}"].quantization["kept_float"]
        weights = m.graphs[f"{graph}.{mf.OPENVINO_INT8}"].quantization["compute_ops"]["MatMul"]["int8"]
        assert weights >= 4 * 2, (graph, weights)  # tiny: q, k, v, o and two MLP MatMuls per layer, two layers
        assert all(k.startswith(("ScaledDotProductAttention", "MatMul node_matmul")) for k in kept), kept


def test_decoder_graphs_are_weight_compressed_and_probed(tiny_export):
    out, _ = tiny_export
    m = mf.read_manifest(out)
    for graph in (mf.DECODER_PREFILL, mf.DECODER_STEP):
        entry = m.graphs[f"{graph}.{mf.OPENVINO_INT8}"]
        assert (entry.precision, entry.exporter) == ("int8", "nncf.compress_weights")
        assert entry.quantization["mode"].startswith("INT8_SYM")
        assert (out / entry.file.replace(".xml", ".bin")).stat().st_size < (out / f"{graph}.{mf.OPENVINO_FP32}.bin").stat().st_size
    assert m.probe["export_machine"]["openvino-int8"]["decoder"]["status"] == "passed"
    assert not list((out / "triton").rglob("*.xml"))  # Triton gets the ONNX graphs only


def test_openvino_int8_parity_fails_past_its_ceiling(trained_export, trained_tiny_dir, heldout_pairs_file):
    """The OpenVINO INT8 IR is held to --int8-max-dp like the ONNX INT8 graphs: a ceiling it cannot meet fails it."""
    from dataclasses import replace

    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.export import openvino_ir
    from creative4u_small.export import parity as P
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.export_run import ExportRun
    from creative4u_small.modeling.checkpoint import load_model

    out, _ = trained_export
    model, processor, verdict_ids = load_model(trained_tiny_dir)
    items = [(p.image_a, p.image_b, p.query, p.title) for p in load_pairs(heldout_pairs_file)[50:62]]
    m = mf.read_manifest(out)

    def run(cfg):
        return ExportRun(cfg, model, processor, verdict_ids, m.prompt, m.preprocessing, m.dims, tmp=out, held_items=items,
                         reference=P.reference_logits(model, processor, verdict_ids, items, 4), entries=m.graphs)

    cfg = ExportConfig(model=trained_tiny_dir, out=out, int8_max_dp=1e-7, threads=1, min_decisive=1)
    figures = openvino_ir.parity(run(cfg))
    assert figures["openvino-int8"]["status"] == "failed" and "above the ceiling" in figures["openvino-int8"]["reason"]
    assert figures["openvino-fp32"]["status"] == "passed"
    loose = openvino_ir.parity(run(replace(cfg, int8_max_dp=0.05)))
    assert loose["openvino-int8"]["status"] == "passed"


def test_export_refuses_openvino_before_any_work_when_it_is_missing(tiny_model_dir, tmp_path):
    code = (
        "import sys\nsys.modules['openvino'] = None\n"
        "from pathlib import Path\n"
        "from creative4u_small.export.export_config import ExportConfig\n"
        "from creative4u_small.export.exporter import run_export\n"
        f"run_export(ExportConfig(model=Path({str(tiny_model_dir)!r}), out=Path({str(tmp_path / 'out')!r}), openvino=True))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0
    assert "--openvino needs openvino and nncf" in r.stderr and "pip install" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["--openvino"])
def test_export_help_names_the_flag(flag):
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    out = CliRunner().invoke(app, ["export", "--help"], terminal_width=200).output
    assert flag in out and "NNCF" in out



@needs_openvino
@pytest.mark.parametrize("min_weights", [0, 128 * 128])
def test_dynamic_int8_keeps_the_small_weight_matmuls_float_as_onnx_runtime_does(tiny_export, min_weights, tmp_path):
    """The weight MatMuls the ONNX Runtime INT8 graphs keep float (under --int8-min-weights, or a narrow head such as the
    2-logit verdict) stay f32 in the OpenVINO INT8 IR; the export records them (tiny_export: min_weights 0)."""
    from creative4u_small.export.openvino_ir import _ov, compress_ir
    from creative4u_small.export.quantize import float_weight_nodes

    out, _ = tiny_export
    m, core, f32 = mf.read_manifest(out), _ov().Core(), _ov().Type.f32
    for graph in (mf.VISION, mf.JUDGE):
        src = out / m.graphs[f"{graph}.{mf.OPENVINO_FP32}"].file
        settings = compress_ir(src, tmp_path / f"{graph}.xml", min_weights)
        kept = settings["kept_float"]
        assert len(kept) == len(float_weight_nodes(out / m.graphs[graph].file, min_weights)), graph
        if min_weights == 0:
            assert kept == m.graphs[f"{graph}.{mf.OPENVINO_INT8}"].quantization["kept_float"]
        ops = {op.get_friendly_name(): op for op in core.read_model(str(tmp_path / f"{graph}.xml")).get_ordered_ops()}
        for name in kept:
            weight = ops[name].input_value(1).get_node()
            assert (weight.get_type_name(), weight.get_element_type()) == ("Constant", f32), name
    assert kept, "the judge's verdict head stays float"
