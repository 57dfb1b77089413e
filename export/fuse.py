"""Transformer fusions with ONNX Runtime's optimizer (``onnxruntime.transformers``), before quantization.

- vision (SigLIP: a pre-norm ViT without mask): model type ``clip``, attention fused as
  ``MultiHeadAttention`` rather than ``Attention``, so the Q/K/V projections stay separate MatMuls that
  dynamic INT8 turns into integer GEMMs while the attention core runs ORT's fused (flash) kernel;
  tanh GELU becomes ``FastGelu``.
- judge and decoder graphs (Llama-shaped text model): RMSNorm becomes ``SimplifiedLayerNormalization``.
  Its rotary, grouped-query attention is not matched by the optimizer and stays as exported.

ORT's CPU ``SkipLayerNormalization`` and ``SkipSimplifiedLayerNormalization`` kernels measured slower
than the plain ``Add`` + norm they replace (on the 1024 x 768 SigLIP activations: 2.1 ms against
0.5 ms per call, 2 cores), and the attention fusion needs them as anchors, so every skip-norm the
optimizer writes is split back into ``Add`` + the norm after fusion. The fused graphs use
``com.microsoft`` operators: ONNX Runtime (CPU, CUDA) runs them, TensorRT's parser does not, so the
TensorRT QDQ graphs are made from the unfused export.
"""

from __future__ import annotations

import collections
from pathlib import Path

from creative4u_small.export.graphs import graph_files
from creative4u_small.export.quantize import has_external_data
from creative4u_small.runtime import manifest as mf

TOOL = "onnxruntime.transformers.optimizer"
VISION_MODEL_TYPE = "clip"
TEXT_MODEL_TYPE = "bert"  # BertOnnxModel's generic fusions: (skip) simplified layer norm for RMSNorm
FUSED_OPS = ("MultiHeadAttention", "Attention", "FastGelu", "Gelu", "BiasGelu", "LayerNormalization",
             "SimplifiedLayerNormalization", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization")
_SKIP_NORMS = {"SkipLayerNormalization": "LayerNormalization", "SkipSimplifiedLayerNormalization": "SimplifiedLayerNormalization"}


def _ops(graph) -> collections.Counter:
    return collections.Counter(n.op_type for n in graph.node)


def split_skip_norms(graph) -> int:
    """Replace each Skip(Simplified)LayerNormalization by Add (+ Add bias) and the plain norm, in place."""
    from onnx import helper

    nodes, split = [], 0
    for n in graph.node:
        if n.op_type not in _SKIP_NORMS:
            nodes.append(n)
            continue
        split += 1
        inputs = list(n.input) + [""] * (5 - len(n.input))
        a, b, gamma = inputs[0], inputs[1], inputs[2]
        beta, bias = (inputs[3], inputs[4]) if n.op_type == "SkipLayerNormalization" else ("", inputs[3])
        total = n.output[3] if len(n.output) > 3 and n.output[3] else f"{n.name}/sum"
        if bias:
            nodes.append(helper.make_node("Add", [a, b], [f"{n.name}/skip"], name=f"{n.name}/add_skip"))
            a, b = f"{n.name}/skip", bias
        nodes.append(helper.make_node("Add", [a, b], [total], name=f"{n.name}/add"))
        eps = next((at.f for at in n.attribute if at.name == "epsilon"), 1e-5)
        nodes.append(helper.make_node(_SKIP_NORMS[n.op_type], [total, gamma] + ([beta] if beta else []), [n.output[0]],
                                      name=f"{n.name}/norm", axis=-1, epsilon=eps))
    del graph.node[:]
    graph.node.extend(nodes)
    return split


def _optimizer_model(model, model_type: str, heads: int, hidden: int):
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import MODEL_TYPES

    cls = MODEL_TYPES[model_type][0]
    om = cls(model, num_heads=heads, hidden_size=hidden)
    if model_type == VISION_MODEL_TYPE:
        # MultiHeadAttention keeps the Q/K/V MatMuls (INT8-able); Attention would pack them into a float op
        om.clip_attention_fusion.use_multi_head_attention = True
    options = FusionOptions(model_type)
    options.enable_embed_layer_norm = False
    om.optimize(options)
    om.topological_sort()
    return om


def fuse_graph(src: Path, dst: Path, graph: str, heads: int, hidden: int) -> dict:
    """Fused copy of ``src`` at ``dst``; returns what was done (written into the graph's manifest entry)."""
    import onnx

    model_type = VISION_MODEL_TYPE if graph == mf.VISION else TEXT_MODEL_TYPE
    model = onnx.load(str(src))
    before = _ops(model.graph)
    om = _optimizer_model(model, model_type, heads, hidden)
    split = split_skip_norms(om.model.graph)
    after = _ops(om.model.graph)
    om.save_model_to_file(str(dst), use_external_data_format=has_external_data(src), all_tensors_to_one_file=True)
    return {"tool": TOOL, "model_type": model_type, "num_heads": heads, "hidden_size": hidden,
            "fused": {op: after[op] for op in FUSED_OPS if after[op] > before[op]},
            "skip_norms_split": split, "nodes": [sum(before.values()), sum(after.values())]}


def graph_dims(model, graph: str) -> tuple[int, int]:
    """(attention heads, hidden size) of the tower a graph runs: the vision encoder or the text model."""
    c = model.config.vision_config if graph == mf.VISION else model.config.text_config
    return int(c.num_attention_heads), int(c.hidden_size)


def fuse_export(tmp: Path, work: Path, entries: dict, model, progress) -> dict[str, Path]:
    """Fuse every fp32 graph of ``entries`` in place (recorded in ``entry.optimization``); returns the unfused
    files, moved under ``work``, for what must not get ``com.microsoft`` operators (TensorRT's QDQ graphs).

    A graph the optimizer cannot handle stays as exported, with the reason recorded, rather than failing the export.
    """
    import shutil

    unfused_dir = Path(work) / "unfused"
    unfused_dir.mkdir(parents=True, exist_ok=True)
    unfused = {}
    for i, (key, entry) in enumerate(list(entries.items())):
        progress(f"fusing {key} (onnxruntime.transformers)", i, len(entries))
        path = tmp / entry.file
        raw = unfused_dir / entry.file
        for f in graph_files(path):
            shutil.move(str(f), str(unfused_dir / f.name))
        try:
            entry.optimization = fuse_graph(raw, path, key, *graph_dims(model, key))
        except Exception as e:  # noqa: BLE001 - an unfusable graph is exported as it is, and says why
            for f in graph_files(path):
                f.unlink(missing_ok=True)
            for f in graph_files(raw):
                shutil.copy(str(f), str(tmp / f.name))
            entry.optimization = {"tool": TOOL, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}
        unfused[key] = raw
    return unfused
