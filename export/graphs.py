"""torch.onnx export of each graph: dynamo first, the TorchScript exporter where dynamo fails.

Each ``export_*`` function builds example inputs with batch >= 2 and pairwise-distinct sizes
(torch.export specialises a dimension of size 1 and merges equal ones), exports, checks the file
with ``onnx.checker`` and returns a ``GraphEntry`` plus the exporter that produced it.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.runtime import manifest as mf

# Graphs above this many parameter bytes keep their weights in an external ``.data`` file
# (protobuf cannot serialise a message over 2 GiB).
EXTERNAL_DATA_BYTES = 1_800_000_000
STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"  # per-node metadata of the dynamo exporter
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportedGraph:
    entry: mf.GraphEntry
    exporter: str  # "dynamo" or "torchscript"
    files: tuple[str, ...]  # relative paths written (graph + external data, if any)
    dynamo_error: str = ""


def _param_bytes(module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers()
    )


def _dynamo_shapes(module, args, names, dynamic):
    """``dynamic``: input name -> {axis: dim name}; "P+1" style names derive from "P".

    Arguments caught by a ``*args`` parameter get their specs as one nested tuple, as torch.export wants.
    """
    import inspect

    from torch.export import Dim

    dims: dict[str, object] = {}

    def dim(name: str):
        if "+" in name:
            base, off = name.split("+")
            return dim(base) + int(off)
        if name not in dims:
            dims[name] = Dim(name.replace(".", "_"), min=1, max=1 << 16)
        return dims[name]

    specs = [{axis: dim(n) for axis, n in dynamic.get(name, {}).items()} or None for name in names[: len(args)]]
    params = list(inspect.signature(module.forward).parameters.values())
    fixed = next((i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    return tuple(specs) if fixed is None else (*specs[:fixed], tuple(specs[fixed:]))


def graph_files(path: Path) -> list[Path]:
    """The graph file and its external-data files (``<name>*.data``), as an export writes them."""
    path = Path(path)
    return [path, *sorted(path.parent.glob(path.name + "*.data"))]


def _reason(e: BaseException) -> str:
    """The innermost cause of an exporter failure in one short line."""
    while e.__cause__ is not None:
        e = e.__cause__
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def _check(path: Path) -> None:
    import onnx

    onnx.checker.check_model(str(path), full_check=False)


def _io_spec(path: Path) -> tuple[dict, dict]:
    """Input/output names, dtypes and (symbolic) shapes as recorded in the ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)

    def spec(values):
        out = {}
        for v in values:
            t = v.type.tensor_type
            dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
            shape = [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else "?") for d in t.shape.dim]
            out[v.name] = {"dtype": dtype, "shape": shape}
        return out

    inits = {i.name for i in model.graph.initializer}
    return spec([i for i in model.graph.input if i.name not in inits]), spec(model.graph.output)


def export_module(module, args, path: Path, input_names, output_names, dynamic: dict, opset: int = 18,
                  prefer_dynamo: bool = True) -> ExportedGraph:
    """Export ``module(*args)`` to ``path``; returns the entry read back from the written file."""
    with _quiet_exporters():
        return _export_module(module, args, Path(path), input_names, output_names, dynamic, opset, prefer_dynamo)


@contextlib.contextmanager
def _quiet_exporters():
    """Silence the exporters' chatter that says nothing about this export (skipped torchvision ops,
    unused axis names, tracer notes on sizes that are fixed by design, e.g. the square frame)."""
    import torch

    names = ("torch.onnx", "torch.onnx._internal.exporter._registration", "torch.export", "torch._dynamo")
    levels = {n: logging.getLogger(n).level for n in names}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*axis name.*will not be used.*")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"copyreg|torch.*")
        for n in names:
            logging.getLogger(n).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for n, level in levels.items():
                logging.getLogger(n).setLevel(level)


def _export_module(module, args, path: Path, input_names, output_names, dynamic: dict, opset: int,
                   prefer_dynamo: bool) -> ExportedGraph:
    import torch

    external = _param_bytes(module) > EXTERNAL_DATA_BYTES
    module.eval()
    dynamo_error = ""
    exporter = None
    if prefer_dynamo:
        try:
            with torch.no_grad():
                program = torch.onnx.export(
                    module, tuple(args), dynamo=True, input_names=list(input_names), output_names=list(output_names),
                    dynamic_shapes=_dynamo_shapes(module, args, list(input_names), dynamic), opset_version=opset,
                    external_data=external, optimize=True, verbose=False,
                )
                program.save(str(path), external_data=external)
            _tidy_dynamo_graph(path, dynamic)
            exporter = "dynamo"
        except Exception as e:  # noqa: BLE001 - any dynamo failure falls back to TorchScript
            dynamo_error = _reason(e)
            log.warning("dynamo export of %s failed (%s); using the TorchScript exporter", path.name, dynamo_error)
            for stale in (path, path.with_name(path.name + ".data")):
                stale.unlink(missing_ok=True)
    if exporter is None:
        with torch.no_grad():
            torch.onnx.export(
                module, tuple(args), str(path), dynamo=False, input_names=list(input_names),
                output_names=list(output_names), dynamic_axes={k: dict(v) for k, v in dynamic.items()},
                opset_version=opset, do_constant_folding=True, external_data=external,
            )
        exporter = "torchscript"
    _check(path)
    inputs, outputs = _io_spec(path)
    if list(inputs) != list(input_names) or list(outputs) != list(output_names):
        raise RuntimeError(f"{path.name}: exported names {list(inputs)} -> {list(outputs)} differ from "
                           f"{list(input_names)} -> {list(output_names)}")
    files = [p.name for p in graph_files(path)] if external else [path.name]
    return ExportedGraph(mf.GraphEntry(path.name, inputs, outputs, "fp32"), exporter, tuple(files), dynamo_error)


def _tidy_dynamo_graph(path: Path, dynamic: dict) -> None:
    """Give dynamo's symbolic dims (s0, s1, ...) the names the manifest uses (batch, seq, ...), and drop the
    Python stack trace dynamo attaches to every node: it holds this machine's file paths, so the same model
    exported from another checkout would hash differently."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for node in model.graph.node:
        kept = [p for p in node.metadata_props if p.key != STACK_TRACE_KEY]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    rename = {}
    by_name = {v.name: v for v in list(model.graph.input) + list(model.graph.output)}
    for name, axes in dynamic.items():
        v = by_name.get(name)
        if v is None:
            continue
        for axis, label in axes.items():
            d = v.type.tensor_type.shape.dim[axis]
            if d.dim_param and d.dim_param not in rename:
                rename[d.dim_param] = label
    for v in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        for d in v.type.tensor_type.shape.dim:
            if d.dim_param in rename:
                d.dim_param = rename[d.dim_param]
    onnx.save(model, str(path))


# ---------------------------------------------------------------- example inputs


def _text_dims(model):
    tc = model.config.text_config
    head_dim = getattr(tc, "head_dim", None) or tc.hidden_size // tc.num_attention_heads
    return tc.num_hidden_layers, tc.num_key_value_heads, head_dim, tc.hidden_size


def example_prompt(model, image_seq_len: int, rows: int = 3, length: int | None = None):
    """input_ids, attention_mask, image_embeds for ``rows`` left-padded rows of distinct lengths."""
    import torch

    _, _, _, hidden = _text_dims(model)
    image_id = int(model.config.image_token_id)
    pad = int(model.config.text_config.pad_token_id or 0)
    length = length or 2 * image_seq_len + 29
    ids = torch.full((rows, length), pad, dtype=torch.long)
    mask = torch.zeros((rows, length), dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    for r in range(rows):
        n = length - 2 * r
        row = torch.randint(10, 100, (n,), generator=g)
        row[5: 5 + image_seq_len] = image_id
        row[9 + image_seq_len: 9 + 2 * image_seq_len] = image_id
        ids[r, length - n:] = row
        mask[r, length - n:] = 1
    embeds = torch.randn(rows, 2 * image_seq_len, hidden, generator=g)
    return ids, mask, embeds


def export_vision(model, image_size: int, path: Path, **kw) -> ExportedGraph:
    import torch

    from creative4u_small.export.wrappers import VisionGraph  # torch, only where a graph is built

    wrapper = VisionGraph(model, image_size)
    pixels = torch.randn(3, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    return export_module(wrapper, (pixels,), path, mf.VISION_INPUTS, mf.VISION_OUTPUTS,
                         {"pixel_values": {0: "images"}, "image_embeds": {0: "images"}}, **kw)


def _prompt_dynamic(names):
    return {names[0]: {0: "rows", 1: "seq"}, names[1]: {0: "rows", 1: "seq"}, names[2]: {0: "rows"}}


def export_judge(model, verdict_ids, image_seq_len: int, path: Path, **kw) -> ExportedGraph:
    from creative4u_small.export.wrappers import JudgeGraph  # torch, only where a graph is built

    dynamic = _prompt_dynamic(mf.JUDGE_INPUTS) | {"verdict_logits": {0: "rows"}}
    return export_module(JudgeGraph(model, verdict_ids), example_prompt(model, image_seq_len), path,
                         mf.JUDGE_INPUTS, mf.JUDGE_OUTPUTS, dynamic, **kw)


def export_judge_extend(model, verdict_ids, image_seq_len: int, path: Path, past_len: int = 21, **kw) -> ExportedGraph:
    import torch

    from creative4u_small.export.wrappers import JudgeExtendGraph  # torch, only where a graph is built

    layers, kv_heads, head_dim, hidden = _text_dims(model)
    rows, new = 3, image_seq_len + 7
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(10, 100, (rows, new), generator=g)
    ids[:, 3: 3 + image_seq_len] = int(model.config.image_token_id)
    embeds = torch.randn(rows, image_seq_len, hidden, generator=g)
    past = [torch.randn(rows, kv_heads, past_len, head_dim, generator=g) for _ in range(2 * layers)]
    inputs = (*mf.JUDGE_EXTEND_INPUTS, *mf.past_names(layers))
    outputs = (*mf.JUDGE_OUTPUTS, *mf.present_names(layers))
    dynamic = {"input_ids": {0: "rows", 1: "new"}, "image_embeds": {0: "rows", 1: "images"}, mf.JUDGE_OUTPUTS[0]: {0: "rows"}}
    dynamic |= {n: {0: "rows", 2: "past"} for n in mf.past_names(layers)}
    dynamic |= {n: {0: "rows", 2: "total"} for n in mf.present_names(layers)}
    return export_module(JudgeExtendGraph(model, verdict_ids), (ids, embeds, *past), path, inputs, outputs, dynamic, **kw)


def export_prefill(model, image_seq_len: int, path: Path, **kw) -> ExportedGraph:
    from creative4u_small.export.wrappers import PrefillGraph  # torch, only where a graph is built

    layers = _text_dims(model)[0]
    dynamic = _prompt_dynamic(mf.PREFILL_INPUTS) | {mf.LOGITS_OUTPUT: {0: "rows"}}
    dynamic |= {n: {0: "rows", 2: "seq"} for n in mf.present_names(layers)}
    return export_module(PrefillGraph(model), example_prompt(model, image_seq_len), path, mf.PREFILL_INPUTS,
                         (mf.LOGITS_OUTPUT, *mf.present_names(layers)), dynamic, **kw)


def export_step(model, path: Path, past_len: int = 23, **kw) -> ExportedGraph:
    import torch

    from creative4u_small.export.wrappers import StepGraph  # torch, only where a graph is built

    layers, kv_heads, head_dim, _ = _text_dims(model)
    rows = 3
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, 100, (rows, 1), generator=g)
    mask = torch.ones(rows, past_len + 1, dtype=torch.long)
    mask[1, :4] = 0
    past = [torch.randn(rows, kv_heads, past_len, head_dim, generator=g) for _ in range(2 * layers)]
    inputs = (*mf.STEP_INPUTS, *mf.past_names(layers))
    outputs = (mf.LOGITS_OUTPUT, *mf.present_names(layers))
    dynamic = {"input_ids": {0: "rows"}, "attention_mask": {0: "rows", 1: "past+1"}, mf.LOGITS_OUTPUT: {0: "rows"}}
    dynamic |= {n: {0: "rows", 2: "past"} for n in mf.past_names(layers)}
    dynamic |= {n: {0: "rows", 2: "past+1"} for n in mf.present_names(layers)}
    return export_module(StepGraph(model), (ids, mask, *past), path, inputs, outputs, dynamic, **kw)
