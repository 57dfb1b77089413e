"""A Triton Inference Server model repository for the exported graphs.

One model per graph (``onnxruntime_onnx``; ``tensorrt_plan`` for engines), version folder ``1``,
and an ensemble for the verdict path: vision -> pair_rows -> judge. ``pair_rows`` is a one-node
ONNX graph (Reshape) that turns per-image embeddings [2R, S, H] (Creative A of row r at 2r,
Creative B at 2r + 1) into the judge's [R, 2S, H]; Triton ensembles cannot reshape between steps.

Configs are written as protobuf text format by a small serializer and read back by the matching
parser, which also lets tests check them without ``tritonclient``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from creative4u_small.runtime import manifest as mf

TRITON_DIR = "triton"
PAIR_ROWS = "pair_rows"
TRITON_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int64": "TYPE_INT64", "int32": "TYPE_INT32",
                 "bool": "TYPE_BOOL", "int8": "TYPE_INT8", "uint8": "TYPE_UINT8"}
_ENUMS = re.compile(r"^(TYPE_[A-Z0-9]+|KIND_[A-Z]+)$")


class Enum(str):
    """A protobuf enum value (written unquoted)."""


# ---------------------------------------------------------------- text format


def to_pbtxt(message: dict, indent: int = 0) -> str:
    """Serialise nested dicts/lists as protobuf text format (repeated scalars as ``[a, b]``)."""
    pad = "  " * indent
    lines = []
    for key, value in message.items():
        if isinstance(value, dict):
            lines += [f"{pad}{key} {{", to_pbtxt(value, indent + 1), f"{pad}}}"]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            blocks = [f"{pad}  {{\n{to_pbtxt(v, indent + 2)}\n{pad}  }}" for v in value]
            lines.append(f"{pad}{key} [\n" + ",\n".join(blocks) + f"\n{pad}]")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [ {', '.join(_scalar(v) for v in value)} ]")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return "\n".join(lines)


def _scalar(v) -> str:
    if isinstance(v, Enum):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([A-Za-z0-9_.+\-]+))')


def _tokens(text: str):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip():
                raise ValueError(f"pbtxt: unexpected character {text[pos]!r} at offset {pos}")
            return
        pos = m.end()
        if m.group(1):
            continue
        tok = m.group(2) or m.group(3) or m.group(4)
        if tok:
            yield tok


def parse_pbtxt(text: str) -> dict:
    """Parse protobuf text format into nested dicts; repeated fields become lists. Raises ValueError."""
    toks = list(_tokens(text))
    pos = 0

    def value(tok):
        if tok.startswith('"'):
            return bytes(tok[1:-1], "utf-8").decode("unicode_escape")
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        if re.fullmatch(r"-?\d*\.\d+(e-?\d+)?", tok):
            return float(tok)
        if tok in ("true", "false"):
            return tok == "true"
        if _ENUMS.match(tok) or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok):
            return Enum(tok)
        raise ValueError(f"pbtxt: bad value {tok!r}")

    def message(end):
        nonlocal pos
        out: dict = {}
        while pos < len(toks) and toks[pos] != end:
            key = toks[pos]
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"pbtxt: expected a field name, got {key!r}")
            pos += 1
            if pos < len(toks) and toks[pos] == ":":
                pos += 1
            if pos >= len(toks):
                raise ValueError(f"pbtxt: field {key!r} has no value")
            tok = toks[pos]
            if tok == "{":
                pos += 1
                val = message("}")
                pos += 1
            elif tok == "[":
                pos += 1
                val = []
                while toks[pos] != "]":
                    if toks[pos] == "{":
                        pos += 1
                        val.append(message("}"))
                        pos += 1
                    else:
                        val.append(value(toks[pos]))
                        pos += 1
                    if toks[pos] == ",":
                        pos += 1
                    elif toks[pos] != "]":
                        raise ValueError(f"pbtxt: expected ',' or ']' in {key!r}, got {toks[pos]!r}")
                pos += 1
            else:
                val = value(tok)
                pos += 1
            if key in out:
                prev = out[key] if isinstance(out[key], list) else [out[key]]
                out[key] = prev + (val if isinstance(val, list) else [val])
            else:
                out[key] = val
        if end == "}" and pos >= len(toks):
            raise ValueError("pbtxt: unbalanced braces (missing '}')")
        return out

    result = message(None)
    if pos != len(toks):
        raise ValueError(f"pbtxt: unexpected {toks[pos]!r}")
    return result


# ---------------------------------------------------------------- model configs


def _tensors(spec: dict) -> list[dict]:
    out = []
    for name, s in spec.items():
        if s["dtype"] not in TRITON_DTYPES:
            raise ValueError(f"tensor {name}: dtype {s['dtype']} has no Triton type")
        out.append({"name": name, "data_type": Enum(TRITON_DTYPES[s["dtype"]]),
                    "dims": [d if isinstance(d, int) else -1 for d in s["shape"]]})
    return out


def model_config(name: str, platform: str, entry: mf.GraphEntry, kind: str) -> dict:
    return {
        "name": name,
        "platform": platform,
        "max_batch_size": 0,
        "input": _tensors(entry.inputs),
        "output": _tensors(entry.outputs),
        "instance_group": [{"count": 1, "kind": Enum(kind)}],
    }


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


def ensemble_config(name: str, vision: str, judge: str, vision_entry: mf.GraphEntry, judge_entry: mf.GraphEntry) -> dict:
    """vision(pixel_values) -> pair_rows -> judge(input_ids, attention_mask, rows) -> verdict_logits."""
    ids, mask, emb = mf.JUDGE_INPUTS
    inputs = {mf.VISION_INPUTS[0]: vision_entry.inputs[mf.VISION_INPUTS[0]], ids: judge_entry.inputs[ids],
              mask: judge_entry.inputs[mask]}
    return {
        "name": name,
        "platform": "ensemble",
        "max_batch_size": 0,
        "input": _tensors(inputs),
        "output": _tensors({mf.JUDGE_OUTPUTS[0]: judge_entry.outputs[mf.JUDGE_OUTPUTS[0]]}),
        "ensemble_scheduling": {"step": [
            {"model_name": vision, "model_version": -1,
             "input_map": {"key": mf.VISION_INPUTS[0], "value": mf.VISION_INPUTS[0]},
             "output_map": {"key": mf.VISION_OUTPUTS[0], "value": "per_image_embeds"}},
            {"model_name": PAIR_ROWS, "model_version": -1,
             "input_map": {"key": "image_embeds", "value": "per_image_embeds"},
             "output_map": {"key": "pair_embeds", "value": "row_embeds"}},
            {"model_name": judge, "model_version": -1,
             "input_map": [{"key": ids, "value": ids}, {"key": mask, "value": mask}, {"key": emb, "value": "row_embeds"}],
             "output_map": {"key": mf.JUDGE_OUTPUTS[0], "value": mf.JUDGE_OUTPUTS[0]}},
        ]},
    }


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _write_config(folder: Path, config: dict) -> None:
    text = to_pbtxt(config) + "\n"
    parse_pbtxt(text)  # never write a config the parser cannot read back
    (folder / "config.pbtxt").write_text(text)


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
