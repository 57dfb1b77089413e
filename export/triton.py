"""A Triton Inference Server model repository for the exported graphs.

One model per graph (``onnxruntime_onnx``; ``tensorrt_plan`` for engines), version folder ``1``,
and an ensemble for the verdict path: vision -> pair_rows -> judge. ``pair_rows`` is a one-node
ONNX graph (Reshape) that turns per-image embeddings [2R, S, H] (Creative A of row r at 2r,
Creative B at 2r + 1) into the judge's [R, 2S, H]; Triton ensembles cannot reshape between steps.

Configs are ``inference.ModelConfig`` messages of Triton's own schema (vendored in
``vendor/triton_model_config_pb2``), written with protobuf's ``text_format``, so a field Triton does not
know cannot be written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from creative4u_small.export.vendor import triton_model_config_pb2
from creative4u_small.runtime import manifest as mf

TRITON_DIR = "triton"
PAIR_ROWS = "pair_rows"
TRITON_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int64": "TYPE_INT64", "int32": "TYPE_INT32",
                 "bool": "TYPE_BOOL", "int8": "TYPE_INT8", "uint8": "TYPE_UINT8"}
CONFIG_FILE = "config.pbtxt"


def _schema():
    return triton_model_config_pb2


# ---------------------------------------------------------------- model configs


def _add_tensors(field, spec: dict) -> None:
    pb = _schema()
    for name, s in spec.items():
        if s["dtype"] not in TRITON_DTYPES:
            raise ValueError(f"tensor {name}: dtype {s['dtype']} has no Triton type")
        field.add(name=name, data_type=pb.DataType.Value(TRITON_DTYPES[s["dtype"]]),
                  dims=[d if isinstance(d, int) else -1 for d in s["shape"]])


def model_config(name: str, platform: str, entry: mf.GraphEntry, kind: str):
    """One graph as a Triton model (``kind``: KIND_CPU or KIND_GPU); returns a ``ModelConfig`` message."""
    pb = _schema()
    config = pb.ModelConfig(name=name, platform=platform, max_batch_size=0)
    _add_tensors(config.input, entry.inputs)
    _add_tensors(config.output, entry.outputs)
    config.instance_group.add(count=1, kind=pb.ModelInstanceGroup.Kind.Value(kind))
    return config


def pair_rows_graph(path: Path, image_seq_len: int, hidden: int, opset: int) -> mf.GraphEntry:
    """[2R, S, H] per-image embeddings -> [R, 2S, H] judge rows (Creative A then B)."""
    import onnx
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["images", image_seq_len, hidden])
    out = helper.make_tensor_value_info("pair_embeds", TensorProto.FLOAT, ["rows", 2 * image_seq_len, hidden])
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 2 * image_seq_len, hidden])
    node = helper.make_node("Reshape", ["image_embeds", "shape"], ["pair_embeds"])
    graph = helper.make_graph([node], PAIR_ROWS, [inp], [out], initializer=[shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="creative4u-small")
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return mf.GraphEntry(Path(path).name, {"image_embeds": {"dtype": "float32", "shape": ["images", image_seq_len, hidden]}},
                         {"pair_embeds": {"dtype": "float32", "shape": ["rows", 2 * image_seq_len, hidden]}})


def ensemble_config(name: str, vision: str, judge: str, vision_entry: mf.GraphEntry, judge_entry: mf.GraphEntry):
    """vision(pixel_values) -> pair_rows -> judge(input_ids, attention_mask, rows) -> verdict_logits."""
    pb = _schema()
    ids, mask, emb = mf.JUDGE_INPUTS
    config = pb.ModelConfig(name=name, platform="ensemble", max_batch_size=0)
    _add_tensors(config.input, {mf.VISION_INPUTS[0]: vision_entry.inputs[mf.VISION_INPUTS[0]], ids: judge_entry.inputs[ids],
                                mask: judge_entry.inputs[mask]})
    _add_tensors(config.output, {mf.JUDGE_OUTPUTS[0]: judge_entry.outputs[mf.JUDGE_OUTPUTS[0]]})
    steps = config.ensemble_scheduling.step
    steps.add(model_name=vision, model_version=-1, input_map={mf.VISION_INPUTS[0]: mf.VISION_INPUTS[0]},
              output_map={mf.VISION_OUTPUTS[0]: "per_image_embeds"})
    steps.add(model_name=PAIR_ROWS, model_version=-1, input_map={"image_embeds": "per_image_embeds"},
              output_map={"pair_embeds": "row_embeds"})
    steps.add(model_name=judge, model_version=-1, input_map={ids: ids, mask: mask, emb: "row_embeds"},
              output_map={mf.JUDGE_OUTPUTS[0]: mf.JUDGE_OUTPUTS[0]})
    return config


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _write_config(folder: Path, config) -> None:
    from google.protobuf import text_format

    (folder / CONFIG_FILE).write_text(text_format.MessageToString(config))


def write_repository(export_dir: Path, graphs: dict[str, mf.GraphEntry], dims: mf.ModelDims, opset: int,
                     engines: dict | None = None) -> list[str]:
    """Write ``export_dir/triton``; ``graphs`` maps manifest keys to entries. Returns the model names."""
    root = Path(export_dir) / TRITON_DIR
    root.mkdir()
    names = []
    pr_dir = root / PAIR_ROWS
    (pr_dir / "1").mkdir(parents=True)
    pr_entry = pair_rows_graph(pr_dir / "1" / "model.onnx", dims.image_seq_len, dims.hidden_size, opset)
    _write_config(pr_dir, model_config(PAIR_ROWS, "onnxruntime_onnx", pr_entry, "KIND_CPU"))
    names.append(PAIR_ROWS)
    for key, entry in graphs.items():
        if not entry.file.endswith(".onnx"):  # OpenVINO IR: the runtime's openvino backend runs it, Triton gets the ONNX graphs
            continue
        name = key.replace(".", "_").replace("-", "_")
        folder = root / name
        _link(Path(export_dir) / entry.file, folder / "1" / "model.onnx")
        for data in Path(export_dir).glob(entry.file + "*.data"):
            _link(data, folder / "1" / data.name)
        _write_config(folder, model_config(name, "onnxruntime_onnx", entry, "KIND_CPU"))
        names.append(name)
    for suffix in ("", ".int8"):
        v, j = mf.VISION + suffix, mf.JUDGE + suffix
        if v in graphs and j in graphs:
            name = "verdict" + suffix.replace(".", "_")
            (root / name / "1").mkdir(parents=True)
            cfg = ensemble_config(name, v.replace(".", "_"), j.replace(".", "_"), graphs[v], graphs[j])
            _write_config(root / name, cfg)
            names.append(name)
    for role, engine in (engines or {}).items():
        name = f"{role}_trt"
        folder = root / name
        _link(Path(export_dir) / engine["file"], folder / "1" / "model.plan")
        _write_config(folder, model_config(name, "tensorrt_plan", graphs[engine["graph"]], "KIND_GPU"))
        names.append(name)
    if engines and mf.VISION in engines and mf.JUDGE in engines:
        name = "verdict_trt"
        (root / name / "1").mkdir(parents=True)
        _write_config(root / name, ensemble_config(name, f"{mf.VISION}_trt", f"{mf.JUDGE}_trt",
                                                   graphs[engines[mf.VISION]["graph"]], graphs[engines[mf.JUDGE]["graph"]]))
        names.append(name)
    return names
