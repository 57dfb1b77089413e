"""The Triton repository: configs parse with protobuf's text-format parser against Triton's
ModelConfig schema, name the ONNX graphs' real inputs/outputs, and the ensemble computes the verdict."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from creative4u_small.runtime import manifest as mf

PROTO = Path(__file__).resolve().parents[2] / "export" / "vendor" / "triton_model_config.proto"


def _parse(path):
    """Protobuf's own text-format parser against Triton's ModelConfig (not the writer's code)."""
    from google.protobuf import text_format

    from creative4u_small.export.vendor.triton_model_config_pb2 import ModelConfig

    return text_format.Parse(Path(path).read_text(), ModelConfig())


@pytest.fixture(scope="module")
def repo(tiny_export):
    out, summary = tiny_export
    return out / "triton", summary


def test_vendored_schema_matches_tritons_proto():
    """Every field and enum value of the recorded model_config.proto is in the vendored descriptor, same number."""
    from creative4u_small.export.vendor import triton_model_config_pb2 as pb

    text = re.sub(r"//[^\n]*", "", PROTO.read_text())
    fields = re.findall(r"^\s*(?:repeated\s+|optional\s+)?(?:map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;", text, re.M)
    values = re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*(\d+)\s*;", text, re.M)
    have = set()

    def walk(d):
        have.update((f.name, str(f.number)) for f in d.fields)
        have.update((v.name, str(v.number)) for e in d.enum_types for v in e.values)
        for n in d.nested_types:
            walk(n)

    for d in pb.DESCRIPTOR.message_types_by_name.values():
        walk(d)
    have.update((v.name, str(v.number)) for e in pb.DESCRIPTOR.enum_types_by_name.values() for v in e.values)
    assert len(fields) > 100 and len(values) > 30
    assert set(fields) | set(values) <= have


def test_a_field_triton_does_not_know_fails_to_parse(tmp_path):
    from google.protobuf import text_format

    (tmp_path / "config.pbtxt").write_text('name: "x"\nplatform: "onnxruntime_onnx"\nmax_batch: 4\n')
    with pytest.raises(text_format.ParseError, match="max_batch"):
        _parse(tmp_path / "config.pbtxt")
    (tmp_path / "config.pbtxt").write_text('input { name: "a" data_type: TYPE_FLOAT32 }\n')
    with pytest.raises(text_format.ParseError, match="TYPE_FLOAT32"):
        _parse(tmp_path / "config.pbtxt")


def test_configs_parse_with_protobuf_text_format(repo):
    root, summary = repo
    names = sorted(p.parent.name for p in root.glob("*/config.pbtxt"))
    assert names == sorted(summary["triton_models"])
    for cfg in root.glob("*/config.pbtxt"):
        message = _parse(cfg)
        assert message.name == cfg.parent.name
        assert message.platform in ("onnxruntime_onnx", "ensemble", "tensorrt_plan")
        assert (cfg.parent / "1").is_dir()


def test_config_names_are_the_graphs_real_inputs_and_outputs(repo):
    import onnx

    from creative4u_small.export.triton import TRITON_DTYPES
    from creative4u_small.export.vendor.triton_model_config_pb2 import DataType

    root, _ = repo
    checked = 0
    for cfg_path in root.glob("*/config.pbtxt"):
        cfg = _parse(cfg_path)
        if cfg.platform != "onnxruntime_onnx":
            continue
        graph = onnx.load(str(cfg_path.parent / "1" / "model.onnx")).graph
        inits = {i.name for i in graph.initializer}
        real_in = [i.name for i in graph.input if i.name not in inits]
        assert [t.name for t in cfg.input] == real_in
        assert [t.name for t in cfg.output] == [o.name for o in graph.output]
        for t, v in zip(cfg.input, [i for i in graph.input if i.name not in inits]):
            np_dtype = onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name
            assert DataType.Name(t.data_type) == TRITON_DTYPES[np_dtype]
            assert len(t.dims) == len(v.type.tensor_type.shape.dim)
        checked += 1
    assert checked >= 9  # pair_rows + 4 fp32 + 4 int8 graphs


def test_ensemble_wires_vision_pair_rows_judge_and_computes_the_verdict(repo, tiny_export):
    """Run the ensemble's steps as Triton would (by its maps) and compare with the direct driver."""
    import onnxruntime as ort

    from creative4u_small.export.parity import OrtVerdictDriver

    root, _ = repo
    out, _ = tiny_export
    ens = _parse(root / "verdict" / "config.pbtxt")
    assert ens.platform == "ensemble"
    steps = ens.ensemble_scheduling.step
    assert [s.model_name for s in steps] == ["vision", "pair_rows", "judge"]
    rng = np.random.default_rng(0)
    m = mf.read_manifest(out)
    s = m.preprocessing.image_size
    pixels = rng.standard_normal((4, 3, s, s)).astype(np.float32)  # rows: (img0, img1), (img2, img3)
    fixed = [i for p in m.prompt.pieces if "ids" in p for i in p["ids"]]
    ids = np.array([fixed[:10] + m.prompt.image_block_ids + fixed[10:20] + m.prompt.image_block_ids + fixed[20:]] * 2, dtype=np.int64)
    tensors = {"pixel_values": pixels, "input_ids": ids, "attention_mask": np.ones_like(ids)}
    for step in steps:
        sess = ort.InferenceSession(str(root / step.model_name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
        outs = list(step.output_map.items())
        result = sess.run([k for k, _ in outs], {k: tensors[v] for k, v in step.input_map.items()})
        tensors.update({v: r for (_, v), r in zip(outs, result)})
    direct = OrtVerdictDriver(out / "vision.onnx", out / "judge.onnx").logits(ids, np.ones_like(ids), pixels, np.array([[0, 1], [2, 3]]))
    assert np.allclose(tensors["verdict_logits"], direct, atol=1e-6)


def test_tensorrt_plan_models_and_ensemble(tiny_export, tmp_path):
    """With engines (written by `--trt` on a GPU; stand-in bytes here) the repository adds tensorrt_plan models."""
    import shutil

    from creative4u_small.export.triton import write_repository

    out, _ = tiny_export
    folder = tmp_path / "exp"
    shutil.copytree(out, folder)
    m = mf.read_manifest(folder, verify_hashes=False)
    shutil.rmtree(folder / "triton")
    engines = {}
    for role, graph in ((mf.VISION, "vision.int8"), (mf.JUDGE, "judge.int8")):
        (folder / f"{graph}.trt10.9.0.gpu.plan").write_bytes(b"stand-in engine bytes")
        engines[role] = {"file": f"{graph}.trt10.9.0.gpu.plan", "graph": graph}
    names = write_repository(folder, m.graphs, m.dims, 18, engines)
    assert {"vision_trt", "judge_trt", "verdict_trt"} <= set(names)
    for role, engine in engines.items():
        cfg = _parse(folder / "triton" / f"{role}_trt" / "config.pbtxt")
        assert cfg.platform == "tensorrt_plan" and cfg.instance_group[0].kind == cfg.instance_group[0].KIND_GPU
        assert [t.name for t in cfg.input] == list(m.graphs[engine["graph"]].inputs)
        assert (folder / "triton" / f"{role}_trt" / "1" / "model.plan").read_bytes() == b"stand-in engine bytes"
    ens = _parse(folder / "triton" / "verdict_trt" / "config.pbtxt")
    assert [s.model_name for s in ens.ensemble_scheduling.step] == ["vision_trt", "pair_rows", "judge_trt"]
