"""INT8 variants with onnxruntime.quantization.

- every graph for ONNX Runtime (CPU): dynamic INT8 (weights QInt8 per channel, activations
  quantized at run time), which runs integer GEMMs (VNNI/AMX where the CPU has them);
- vision and judge for TensorRT: static QDQ calibrated on real pairs, MatMul/Gemm only, with
  symmetric activations — the explicit-quantization form TensorRT's strongly typed networks take.

Every input first goes through ``quant_pre_process(..., skip_symbolic_shape=True)``: dynamo
exports carry shapes the symbolic shape inference of onnxruntime cannot follow.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

QUANT_OPS = ("MatMul", "Gemm")


def _external(path: Path) -> bool:
    return any(Path(path).parent.glob(Path(path).name + "*.data"))


def pre_process(src: Path, dst: Path) -> Path:
    """Shape inference + graph optimisation before quantization (dynamo-safe)."""
    from onnxruntime.quantization import quant_pre_process

    external = _external(src)
    quant_pre_process(str(src), str(dst), skip_symbolic_shape=True, save_as_external_data=external,
                      all_tensors_to_one_file=True, external_data_location=Path(dst).name + ".data" if external else None)
    return dst


def quantize_dynamic_int8(src: Path, dst: Path) -> Path:
    """Dynamic INT8 (CPU): MatMul/Gemm weights QInt8 per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=Path(dst).parent, prefix=".quant-") as tmp:
        pre = pre_process(src, Path(tmp) / "pre.onnx")
        quantize_dynamic(str(pre), str(dst), op_types_to_quantize=list(QUANT_OPS), per_channel=True,
                         weight_type=QuantType.QInt8, use_external_data_format=_external(src),
                         extra_options={"MatMulConstBOnly": True})
    return dst


class FeedReader:
    """``CalibrationDataReader`` over a list of input feeds (dicts of numpy arrays)."""

    def __init__(self, feeds: list[dict]):
        if not feeds:
            raise ValueError("calibration needs at least one batch of inputs")
        self._feeds = list(feeds)
        self._it = iter(self._feeds)

    def get_next(self):
        return next(self._it, None)

    def rewind(self):
        self._it = iter(self._feeds)


def calibration_budget(per_item_bytes: int, budget_mb: int, available: int) -> int:
    """How many items (images or rows) calibration may hold in memory: at least 2, at most ``available``."""
    return max(2, min(available, (budget_mb << 20) // max(1, per_item_bytes)))


def vision_bytes_per_image(layers: int, patches: int, hidden: int, intermediate: int) -> int:
    """float32 inputs/outputs of a ViT layer's weight MatMuls (q, k, v, o, fc1, fc2) for one image."""
    return 4 * layers * patches * (8 * hidden + 2 * intermediate)


def split_feeds(feeds: list[dict], rows: int) -> list[dict]:
    """Cut every feed along axis 0 into chunks of ``rows``: calibration keeps every intermediate tensor
    of a chunk in memory (a 512 px vision batch of 16 images needed over 20 GB)."""
    out = []
    for feed in feeds:
        n = len(next(iter(feed.values())))
        out += [{k: v[i: i + rows] for k, v in feed.items()} for i in range(0, n, rows)]
    return out


def quantize_static_qdq(src: Path, dst: Path, feeds: list[dict]) -> Path:
    """Static QDQ INT8 calibrated (MinMax) on ``feeds``; symmetric, per-channel weights.

    Only MatMul/Gemm with a constant weight are quantized (``MatMulConstBOnly``): activation x
    activation products (attention scores) stay float, which keeps the drift low. The MinMax
    calibrator holds every calibrated tensor of every feed until the end, so callers bound the
    feeds with ``calibration_budget``.
    """
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    reader_cls = type("C4UFeedReader", (FeedReader, CalibrationDataReader), {})
    with tempfile.TemporaryDirectory(dir=Path(dst).parent, prefix=".quant-") as tmp:
        pre = pre_process(src, Path(tmp) / "pre.onnx")
        quantize_static(
            str(pre), str(dst), reader_cls(feeds), quant_format=QuantFormat.QDQ, op_types_to_quantize=list(QUANT_OPS),
            per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax, use_external_data_format=_external(src),
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "MatMulConstBOnly": True,
                           "CalibTensorRangeSymmetric": True},
        )
        for leftover in Path(dst).parent.glob("augmented_model*.onnx"):
            leftover.unlink(missing_ok=True)
    return dst
