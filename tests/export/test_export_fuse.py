"""Transformer fusions (export/fuse.py) and FP16 graphs (export/fp16.py): same answers, recorded in the manifest."""

from __future__ import annotations

import numpy as np
import pytest

from creative4u_small.runtime import manifest as mf


def _session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _ops(path) -> set[str]:
    import onnx

    return {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}


@pytest.fixture(scope="module")
def unfused_export(tiny_model_dir, tmp_path_factory):
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    out = tmp_path_factory.mktemp("exports") / "unfused"
    run_export(ExportConfig(model=tiny_model_dir, out=out, fuse=False, calib_pairs=4, threads=1))
    return out


def _feeds(export_dir, graph):
    data = np.load(export_dir / mf.PROBE_FILE)
    pixels = data["pixel_values"].astype(np.float32)
    if graph == mf.VISION:
        return {"pixel_values": pixels}
    embeds = _session(export_dir / "vision.onnx").run(None, {"pixel_values": pixels})[0]
    idx = data["image_index"]
    return {"input_ids": data["input_ids"], "attention_mask": data["attention_mask"],
            "image_embeds": embeds[idx].reshape(idx.shape[0], -1, embeds.shape[-1])}


@pytest.mark.parametrize("graph", [mf.VISION, mf.JUDGE, mf.DECODER_PREFILL])
def test_fused_graph_gives_the_unfused_answers(unfused_export, tiny_model_dir, tmp_path, graph):
    from creative4u_small.export.fuse import fuse_graph, graph_dims
    from creative4u_small.modeling.checkpoint import load_model

    model = load_model(tiny_model_dir)[0]
    src, dst = unfused_export / f"{graph}.onnx", tmp_path / f"{graph}.fused.onnx"
    record = fuse_graph(src, dst, graph, *graph_dims(model, graph))
    expected = {mf.VISION: {"MultiHeadAttention", "FastGelu"}, mf.JUDGE: {"SimplifiedLayerNormalization"},
                mf.DECODER_PREFILL: {"SimplifiedLayerNormalization"}}[graph]
    assert expected <= set(record["fused"]) and record["tool"] == "onnxruntime.transformers.optimizer"
    assert record["nodes"][1] < record["nodes"][0]
    ops = _ops(dst)
    assert expected <= ops and not ops & {"SkipLayerNormalization", "SkipSimplifiedLayerNormalization"}
    if graph == mf.VISION:  # Q/K/V stay separate weight MatMuls, so dynamic INT8 quantizes them
        assert "Attention" not in ops and record["skip_norms_split"] > 0
    feeds = _feeds(unfused_export, graph)
    for want, got in zip(_session(src).run(None, feeds), _session(dst).run(None, feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)


@pytest.fixture(scope="module")
def torchscript_export(tiny_model_dir, tmp_path_factory):
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    out = tmp_path_factory.mktemp("exports") / "torchscript"
    run_export(ExportConfig(model=tiny_model_dir, out=out, fuse=False, decoder=False, prefer_dynamo=False, calib_pairs=4, threads=1))
    return out


def test_a_fused_vision_graph_quantizes_whole(torchscript_export, tiny_model_dir, tmp_path):
    """Every MatMul of the fused TorchScript-exported graph INT8 (min_weights 0, as on full-size models).

    ONNX shape inference leaves what follows MultiHeadAttention untyped, and the quantizer stopped
    there ("Unable to find data type") until it was told the graph is float.
    """
    from creative4u_small.export.fuse import fuse_graph, graph_dims
    from creative4u_small.export.quantize import quantize_dynamic_int8
    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.runtime.probe import rel_err

    fused = tmp_path / "vision.fused.onnx"
    fuse_graph(torchscript_export / "vision.onnx", fused, mf.VISION, *graph_dims(load_model(tiny_model_dir)[0], mf.VISION))
    quantize_dynamic_int8(fused, tmp_path / "vision.int8.onnx", min_weights=0)
    ops = _ops(tmp_path / "vision.int8.onnx")
    assert {"MultiHeadAttention", "DynamicQuantizeLinear"} <= ops and ({"MatMulInteger", "MatMulIntegerToFloat"} & ops)
    feeds = _feeds(torchscript_export, mf.VISION)
    want = _session(fused).run(None, feeds)[0]
    assert rel_err(_session(tmp_path / "vision.int8.onnx").run(None, feeds)[0], want) < 0.15


def test_no_fuse_says_so_in_the_manifest(unfused_export):
    entries = mf.read_manifest(unfused_export).graphs
    assert entries["vision"].optimization == {"fused": {}, "reason": "--no-fuse: graphs as exported"}
    assert "MultiHeadAttention" not in _ops(unfused_export / "vision.onnx")


def _skip_norm_graph(op: str):
    """x + skip (+ bias) -> norm, with the sum feeding a second residual add (as in a pre-norm block)."""
    from onnx import TensorProto, helper, numpy_helper

    d = 8
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(d).astype(np.float32), n) for n in ("gamma", "beta", "bias")]
    inputs = ["x", "skip", "gamma"] + (["beta", "bias"] if op == "SkipLayerNormalization" else ["bias"])
    nodes = [helper.make_node(op, inputs, ["y", "", "", "sum"], domain="com.microsoft", epsilon=1e-5, name="sln"),
             helper.make_node("Add", ["y", "sum"], ["out"])]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3, d]) for n in ("x", "skip")]
    graph = helper.make_graph(nodes, "g", vi, [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


@pytest.mark.parametrize("op", ["SkipLayerNormalization", "SkipSimplifiedLayerNormalization"])
def test_split_skip_norm_is_the_same_function(op, tmp_path):
    import onnx

    from creative4u_small.export.fuse import split_skip_norms

    model = _skip_norm_graph(op)
    onnx.save(model, tmp_path / "fused.onnx")
    assert split_skip_norms(model.graph) == 1
    onnx.save(model, tmp_path / "split.onnx")
    assert op not in _ops(tmp_path / "split.onnx")
    rng = np.random.default_rng(1)
    feeds = {k: rng.standard_normal((2, 3, 8)).astype(np.float32) for k in ("x", "skip")}
    want = _session(tmp_path / "fused.onnx").run(None, feeds)[0]
    np.testing.assert_allclose(_session(tmp_path / "split.onnx").run(None, feeds)[0], want, rtol=1e-5, atol=1e-5)


def test_a_graph_the_optimizer_cannot_fuse_is_exported_as_it_is(tiny_model_dir, tmp_path, monkeypatch):
    from creative4u_small.export import fuse
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    def broken(src, dst, graph, *dims):
        if graph == mf.JUDGE:
            raise RuntimeError("no pattern for this graph")
        return real(src, dst, graph, *dims)

    real = fuse.fuse_graph
    monkeypatch.setattr(fuse, "fuse_graph", broken)
    out = tmp_path / "export"
    run_export(ExportConfig(model=tiny_model_dir, out=out, decoder=False, calib_pairs=4, threads=1))
    entries = mf.read_manifest(out).graphs
    assert entries["judge"].optimization["error"] == "RuntimeError: no pattern for this graph"
    assert "MultiHeadAttention" in entries["vision"].optimization["fused"]
    assert not list(out.parent.glob(".export*")) and not list(out.glob("*.fused*"))
