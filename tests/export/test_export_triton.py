"""The Triton repository: configs parse (our parser and protobuf's own text-format parser against a
ModelConfig subset), name the ONNX graphs' real inputs/outputs, and the ensemble computes the verdict."""

from __future__ import annotations

import numpy as np
import pytest

from creative4u_small.runtime import manifest as mf


def _model_config_class():
    """A subset of Triton's ModelConfig proto (field names as in model_config.proto), built at run time."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="c4u_triton_subset.proto", package="c4u", syntax="proto3")
    dtype = fdp.enum_type.add(name="DataType")
    for i, n in enumerate(["TYPE_INVALID", "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8",
                           "TYPE_INT16", "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING"]):
        dtype.value.add(name=n, number=i)

    def msg(name, fields, parent=None):
        m = (parent.nested_type if parent else fdp.message_type).add(name=name)
        for i, (fname, ftype, label, type_name) in enumerate(fields, 1):
            f = m.field.add(name=fname, number=i, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    tensor = [("name", F.TYPE_STRING, opt, None), ("data_type", F.TYPE_ENUM, opt, ".c4u.DataType"), ("dims", F.TYPE_INT64, rep, None)]
    msg("ModelInput", tensor)
    msg("ModelOutput", tensor)
    group = msg("ModelInstanceGroup", [("count", F.TYPE_INT32, opt, None), ("kind", F.TYPE_ENUM, opt, ".c4u.ModelInstanceGroup.Kind")])
    kind = group.enum_type.add(name="Kind")
    for i, n in enumerate(["KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"]):
        kind.value.add(name=n, number=i)
    step = msg("Step", [("model_name", F.TYPE_STRING, opt, None), ("model_version", F.TYPE_INT64, opt, None),
                        ("input_map", F.TYPE_MESSAGE, rep, ".c4u.Step.InputMapEntry"),
                        ("output_map", F.TYPE_MESSAGE, rep, ".c4u.Step.OutputMapEntry")])
    for entry in ("InputMapEntry", "OutputMapEntry"):
        e = msg(entry, [("key", F.TYPE_STRING, opt, None), ("value", F.TYPE_STRING, opt, None)], parent=step)
        e.options.map_entry = True
    msg("EnsembleScheduling", [("step", F.TYPE_MESSAGE, rep, ".c4u.Step")])
    msg("ModelConfig", [("name", F.TYPE_STRING, opt, None), ("platform", F.TYPE_STRING, opt, None),
                        ("max_batch_size", F.TYPE_INT32, opt, None), ("input", F.TYPE_MESSAGE, rep, ".c4u.ModelInput"),
                        ("output", F.TYPE_MESSAGE, rep, ".c4u.ModelOutput"),
                        ("instance_group", F.TYPE_MESSAGE, rep, ".c4u.ModelInstanceGroup"),
                        ("ensemble_scheduling", F.TYPE_MESSAGE, opt, ".c4u.EnsembleScheduling")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("c4u.ModelConfig"))


@pytest.fixture(scope="module")
def repo(tiny_export):
    out, summary = tiny_export
    return out / "triton", summary


def test_configs_parse_with_protobuf_text_format(repo):
    from google.protobuf import text_format

    root, summary = repo
    cls = _model_config_class()
    names = sorted(p.parent.name for p in root.glob("*/config.pbtxt"))
    assert names == sorted(summary["triton_models"])
    for cfg in root.glob("*/config.pbtxt"):
        message = text_format.Parse(cfg.read_text(), cls())
        assert message.name == cfg.parent.name
        assert (cfg.parent / "1").is_dir()


def test_config_names_are_the_graphs_real_inputs_and_outputs(repo):
    import onnx

    from creative4u_small.export.triton import TRITON_DTYPES, parse_pbtxt

    root, _ = repo
    checked = 0
    for cfg_path in root.glob("*/config.pbtxt"):
        cfg = parse_pbtxt(cfg_path.read_text())
        if cfg["platform"] != "onnxruntime_onnx":
            continue
        graph = onnx.load(str(cfg_path.parent / "1" / "model.onnx")).graph
        inits = {i.name for i in graph.initializer}
        real_in = [i.name for i in graph.input if i.name not in inits]
        assert [t["name"] for t in cfg["input"]] == real_in
        assert [t["name"] for t in cfg["output"]] == [o.name for o in graph.output]
        for t, v in zip(cfg["input"], [i for i in graph.input if i.name not in inits]):
            np_dtype = onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name
            assert t["data_type"] == TRITON_DTYPES[np_dtype]
            assert len(t["dims"]) == len(v.type.tensor_type.shape.dim)
        checked += 1
    assert checked >= 9  # pair_rows + 4 fp32 + 4 int8 graphs


def test_ensemble_wires_vision_pair_rows_judge_and_computes_the_verdict(repo, tiny_export):
    """Run the ensemble's steps as Triton would (by its maps) and compare with the direct driver."""
    import onnxruntime as ort

    from creative4u_small.export.parity import OrtVerdictDriver
    from creative4u_small.export.triton import parse_pbtxt

    root, _ = repo
    out, _ = tiny_export
    ens = parse_pbtxt((root / "verdict" / "config.pbtxt").read_text())
    assert ens["platform"] == "ensemble"
    steps = ens["ensemble_scheduling"]["step"]
    assert [s["model_name"] for s in steps] == ["vision", "pair_rows", "judge"]
    rng = np.random.default_rng(0)
    m = mf.read_manifest(out)
    s = m.preprocessing.image_size
    pixels = rng.standard_normal((4, 3, s, s)).astype(np.float32)  # rows: (img0, img1), (img2, img3)
    fixed = [i for p in m.prompt.pieces if "ids" in p for i in p["ids"]]
    ids = np.array([fixed[:10] + m.prompt.image_block_ids + fixed[10:20] + m.prompt.image_block_ids + fixed[20:]] * 2, dtype=np.int64)
    tensors = {"pixel_values": pixels, "input_ids": ids, "attention_mask": np.ones_like(ids)}
    for step in steps:
        sess = ort.InferenceSession(str(root / step["model_name"] / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
        maps_in = step["input_map"] if isinstance(step["input_map"], list) else [step["input_map"]]
        maps_out = step["output_map"] if isinstance(step["output_map"], list) else [step["output_map"]]
        result = sess.run([mp["key"] for mp in maps_out], {mp["key"]: tensors[mp["value"]] for mp in maps_in})
        tensors.update({mp["value"]: r for mp, r in zip(maps_out, result)})
    direct = OrtVerdictDriver(out / "vision.onnx", out / "judge.onnx").logits(ids, np.ones_like(ids), pixels, np.array([[0, 1], [2, 3]]))
    assert np.allclose(tensors["verdict_logits"], direct, atol=1e-6)


def test_pbtxt_roundtrip_and_errors():
    from creative4u_small.export.triton import Enum, parse_pbtxt, to_pbtxt

    cfg = {"name": 'we"ird', "max_batch_size": 0, "input": [{"name": "x", "data_type": Enum("TYPE_FP32"), "dims": [-1, 3]}],
           "instance_group": [{"count": 1, "kind": Enum("KIND_CPU")}]}
    assert parse_pbtxt(to_pbtxt(cfg)) == cfg
    with pytest.raises(ValueError, match="unbalanced"):
        parse_pbtxt('name: "x"\ninput { name: "a"')
    with pytest.raises(ValueError):
        parse_pbtxt('input [ { name: "a" } { name: "b" } ]')


def test_tensorrt_plan_models_and_ensemble(tiny_export, tmp_path):
    """With engines (written by `--trt` on a GPU; stand-in bytes here) the repository adds tensorrt_plan models."""
    import shutil

    from creative4u_small.export.triton import parse_pbtxt, write_repository

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
        cfg = parse_pbtxt((folder / "triton" / f"{role}_trt" / "config.pbtxt").read_text())
        assert cfg["platform"] == "tensorrt_plan" and cfg["instance_group"][0]["kind"] == "KIND_GPU"
        assert [t["name"] for t in cfg["input"]] == list(m.graphs[engine["graph"]].inputs)
        assert (folder / "triton" / f"{role}_trt" / "1" / "model.plan").read_bytes() == b"stand-in engine bytes"
    ens = parse_pbtxt((folder / "triton" / "verdict_trt" / "config.pbtxt").read_text())
    assert [s["model_name"] for s in ens["ensemble_scheduling"]["step"]] == ["vision_trt", "pair_rows", "judge_trt"]
