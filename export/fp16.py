"""FP16 graphs for GPUs, converted from the (fused) fp32 graphs with ONNX Runtime's float16 converter.

Inputs and outputs keep the dtypes the runtime feeds and reads (``keep_io_types``: fp32 pixels,
embeddings, logits and KV cache; int64 ids and masks), so a Selector runs them unchanged. Norms and
softmax stay fp32 (the converter casts around them): their sums over hundreds of values are where
fp16 loses most; the converter clamps constants (the additive attention masks) to fp16's range.
The exporter checks their parity on ONNX Runtime's CPU fp16 kernels where the graphs load there
(a CPU's fp16 arithmetic, not a GPU's) and reports "unverified", with the reason, where they do not;
the parity probe then checks them on the user's GPU at load.
"""

from __future__ import annotations

from pathlib import Path

from creative4u_small.export.quantize import has_external_data

# kept fp32 on top of the converter's default block list (fused and unfused spellings of the norms)
KEEP_FP32 = ("LayerNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization",
             "SkipSimplifiedLayerNormalization", "Softmax", "Pow", "ReduceMean", "Sqrt", "Reciprocal", "CumSum", "Range")
SETTINGS = {
    "method": "onnxruntime.transformers float16 conversion of the fp32 graph",
    "io": "inputs and outputs kept as the fp32 graph's (keep_io_types)",
    "kept_fp32": list(KEEP_FP32),
    "why": "GPUs run fp16 matrix products at several times fp32's rate; norms and softmax accumulate in fp32",
}


def convert_fp16(src: Path, dst: Path) -> dict:
    """FP16 copy of ``src`` at ``dst``; returns the settings recorded in its manifest entry."""
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = OnnxModel(onnx.load(str(src)))
    model.convert_float_to_float16(use_symbolic_shape_infer=False, keep_io_types=True,
                                   op_block_list=sorted(set(DEFAULT_OP_BLOCK_LIST) | set(KEEP_FP32)))
    model.save_model_to_file(str(dst), use_external_data_format=has_external_data(src), all_tensors_to_one_file=True)
    return dict(SETTINGS)
