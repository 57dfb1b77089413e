"""INT8 variants with onnxruntime.quantization.

- every graph for ONNX Runtime (CPU): dynamic INT8 (weights QInt8 per channel in a 7-bit range,
  activations quantized at run time), which runs integer GEMMs (VNNI/AMX where the CPU has them);
- vision and judge for TensorRT: static QDQ calibrated on real pairs, MatMul/Gemm only, with
  symmetric activations — the explicit-quantization form TensorRT's strongly typed networks take.

Every input first goes through ``quant_pre_process(..., skip_symbolic_shape=True)``: dynamo
exports carry shapes the symbolic shape inference of onnxruntime cannot follow.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from creative4u_small.export import parity as P
from creative4u_small.export.graphs import _io_spec, graph_files
from creative4u_small.runtime import manifest as mf

if TYPE_CHECKING:  # the run imports the config, which imports this module
    from creative4u_small.export.export_run import ExportRun

QUANT_OPS = ("MatMul", "Gemm")
MIN_QUANT_COLUMNS = 16  # a weight MatMul with fewer output columns (the 2-logit verdict head) stays float
MIN_QUANT_WEIGHTS = 128 * 128  # a smaller weight MatMul stays float: INT8 gains it nothing

# Why dynamic INT8 uses 7-bit weights: ONNX Runtime multiplies uint8 activations by int8 weights.
# On x86 CPUs without VNNI or AMX (AVX2, AVX-512 core) the kernel adds adjacent products in a
# saturating int16 (vpmaddubsw): 2 x 255 x 127 overflows it, 2 x 255 x 64 = 32,640 does not.
# ``reduce_range`` keeps every weight in [-64, 64], so every x86 and ARM64 CPU computes the same
# sums that a VNNI CPU does; uint8 weights (u8 x u8) avoid it too but forgo the VNNI kernel.
DYNAMIC_SETTINGS = {
    "method": "dynamic",
    "weights": "int8, symmetric per output channel, 7-bit range [-64, 64] (reduce_range)",
    "activations": "uint8, asymmetric per tensor, quantized at run time",
    "ops": list(QUANT_OPS),
    "why": "7-bit weights keep the u8 x s8 pair sums inside int16 on CPUs without VNNI (AVX2, AVX-512 core), "
           "so every CPU computes what a VNNI CPU computes",
}


def has_external_data(path: Path) -> bool:
    return len(graph_files(path)) > 1


QDQ_SETTINGS = {
    "method": "static QDQ (MinMax calibration)",
    "weights": "int8, symmetric per output channel",
    "activations": "int8, symmetric per tensor, calibrated",
    "ops": list(QUANT_OPS),
    "why": "the explicit-quantization form TensorRT builds strongly typed INT8 engines from",
}


def quantizer_options(**extra) -> dict:
    """``extra_options`` for ``onnxruntime.quantization``: only constant-weight MatMuls, and untyped tensors read as float.

    ONNX shape inference does not type the outputs of ``com.microsoft`` ops (the fused
    ``MultiHeadAttention``), so after fusion the quantizer finds no type for what follows them
    and stops (seen on TorchScript exports). Every tensor it asks about here is float: the graphs
    are fp32 before quantization.
    """
    import onnx

    return {"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT, **extra}


def pre_process(src: Path, dst: Path) -> Path:
    """Shape inference + graph optimisation before quantization (dynamo-safe)."""
    from onnxruntime.quantization import quant_pre_process

    external = has_external_data(src)
    quant_pre_process(str(src), str(dst), skip_symbolic_shape=True, save_as_external_data=external,
                      all_tensors_to_one_file=True, external_data_location=Path(dst).name + ".data" if external else None)
    return dst


def float_weight_nodes(model_path: Path, min_weights: int = MIN_QUANT_WEIGHTS, min_columns: int = MIN_QUANT_COLUMNS) -> list[str]:
    """MatMul/Gemm nodes whose constant weight stays float: fewer than ``min_weights`` elements, or fewer
    than ``min_columns`` outputs.

    A small MatMul gains nothing from INT8 (docs/int8.md, 'Small MatMuls stay float', has the timings) while its activations still
    pay the quantization noise; a narrow head (the judge's two verdict logits) costs nothing in float
    and adds drift when quantized.
    """
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    out = []
    for node in model.graph.node:
        if node.op_type not in QUANT_OPS or len(node.input) < 2 or len(shapes.get(node.input[1], [])) != 2:
            continue
        k, n = shapes[node.input[1]]
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        if (k if trans_b else n) < min_columns or k * n < min_weights:
            # quantize_dynamic first splits a Gemm into "<name>_MatMul" + Add: name both
            out += [node.name, f"{node.name}_MatMul"] if node.op_type == "Gemm" else [node.name]
    return out


def quantize_dynamic_int8(src: Path, dst: Path, min_weights: int = MIN_QUANT_WEIGHTS) -> dict:
    """Dynamic INT8 (CPU) of ``src`` into ``dst``; returns the settings used (recorded in the manifest)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=Path(dst).parent, prefix=".quant-") as tmp:
        pre = pre_process(src, Path(tmp) / "pre.onnx")
        excluded = float_weight_nodes(pre, min_weights)
        quantize_dynamic(str(pre), str(dst), op_types_to_quantize=list(QUANT_OPS), per_channel=True, reduce_range=True,
                         weight_type=QuantType.QInt8, nodes_to_exclude=excluded, use_external_data_format=has_external_data(src),
                         extra_options=quantizer_options())
    return {**DYNAMIC_SETTINGS, "min_weights": min_weights, "float_nodes": excluded}


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
            calibrate_method=CalibrationMethod.MinMax, use_external_data_format=has_external_data(src),
            extra_options=quantizer_options(ActivationSymmetric=True, WeightSymmetric=True, CalibTensorRangeSymmetric=True),
        )
        for leftover in Path(dst).parent.glob("augmented_model*.onnx"):
            leftover.unlink(missing_ok=True)
    return dst


def quantize_export(run: ExportRun) -> None:
    """INT8 variants into ``run``'s folder and entries, and what calibrated them into ``run.calibration``. The
    TensorRT QDQ graphs are made from the unfused fp32 graphs (its parser takes no ``com.microsoft`` ops).

    ``--int8``: dynamic INT8 for every graph, vision included — on the CPU it runs integer GEMMs,
    where the static QDQ graphs (made for TensorRT) gain little over fp32. ``--trt``: static QDQ vision and
    judge graphs calibrated on real pairs, the explicit-quantization form TensorRT builds from.
    """
    cfg, entries = run.cfg, run.entries

    def add(key: str, source: str, precision: str, settings: dict) -> None:
        inputs, outputs = _io_spec(run.tmp / f"{key}.onnx")
        entries[key] = mf.GraphEntry(f"{key}.onnx", inputs, outputs, precision, "onnxruntime.quantization", source, settings,
                                     {} if precision == "int8-qdq" else dict(entries[source].optimization))

    if cfg.int8:
        run.calibration["int8"] = "dynamic (no calibration)"
        graphs = [k for k in mf.GRAPHS if k in entries]
        for i, key in enumerate(graphs):
            run.progress("INT8 graphs (dynamic)", i, len(graphs))
            settings = quantize_dynamic_int8(run.file(key), run.tmp / f"{key}.int8.onnx", cfg.int8_min_weights)
            add(key + ".int8", key, "int8", settings)
    if cfg.trt:
        vision_feeds, judge_feeds = _qdq_feeds(run)
        run.progress("INT8 vision (static QDQ for TensorRT)", 0, 1)
        quantize_static_qdq(run.unfused_file(mf.VISION), run.tmp / f"{mf.VISION}.int8-qdq.onnx", vision_feeds)
        add(mf.VISION + ".int8-qdq", mf.VISION, "int8-qdq", QDQ_SETTINGS)
        run.progress("INT8 judge (static QDQ for TensorRT)", 0, 1)
        quantize_static_qdq(run.unfused_file(mf.JUDGE), run.tmp / f"{mf.JUDGE}.int8-qdq.onnx", judge_feeds)
        add(mf.JUDGE + ".int8-qdq", mf.JUDGE, "int8-qdq", QDQ_SETTINGS)


def _qdq_feeds(run: ExportRun) -> tuple[list[dict], list[dict]]:
    """The static QDQ calibration feeds (vision pixels; judge rows with the fp32 graph's image embeddings), each cut
    to what ``--calib-memory-mb`` can hold; what was used goes into ``run.calibration``."""
    cfg, model = run.cfg, run.model
    batches = list(P.batches(run.processor, run.calib_items, cfg.batch_size))
    vc = model.config.vision_config
    patches = (vc.image_size // vc.patch_size) ** 2
    n_images = sum(len(b.pixel_values) for b in batches)
    keep = calibration_budget(vision_bytes_per_image(vc.num_hidden_layers, patches, vc.hidden_size, vc.intermediate_size),
                              cfg.calib_memory_mb, n_images)
    vision_feeds = split_feeds([{mf.VISION_INPUTS[0]: b.pixel_values.numpy()} for b in batches], 2)[: (keep + 1) // 2]
    run.calibration.update(vision_images=sum(len(f[mf.VISION_INPUTS[0]]) for f in vision_feeds), vision_images_available=n_images)
    drv = P.OrtVerdictDriver(run.file(mf.VISION), run.file(mf.JUDGE), threads=cfg.threads)
    tc = model.config.text_config
    feeds, rows = [], 0
    for b in batches:
        emb = drv.image_embeds(b.pixel_values.numpy())
        idx = b.image_index.numpy()
        feeds.append({mf.JUDGE_INPUTS[0]: b.input_ids.numpy(), mf.JUDGE_INPUTS[1]: b.attention_mask.numpy(),
                      mf.JUDGE_INPUTS[2]: emb[idx].reshape(idx.shape[0], -1, emb.shape[-1])})
        rows += len(idx)
    per_row = vision_bytes_per_image(tc.num_hidden_layers, feeds[0][mf.JUDGE_INPUTS[0]].shape[1], tc.hidden_size,
                                     tc.intermediate_size)
    judge_feeds = split_feeds(feeds, 2)[: (calibration_budget(per_row, cfg.calib_memory_mb, rows) + 1) // 2]
    run.calibration["judge_rows"] = sum(len(f[mf.JUDGE_INPUTS[0]]) for f in judge_feeds)
    return vision_feeds, judge_feeds
