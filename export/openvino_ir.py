"""OpenVINO IR beside the ONNX graphs (`c4u export --openvino`): fp32 IR and INT8 IR of every graph.

- every graph: ``openvino.convert_model`` of the plain fp32 ONNX graph (before ONNX Runtime's fusions:
  OpenVINO fuses attention, norms and GELU itself, and its ONNX frontend need not know the
  ``com.microsoft`` ops), saved with ``compress_to_fp16=False`` so the fp32 IR stays fp32;
- INT8, ``--openvino-int8 dynamic`` (the default): ``nncf.compress_weights`` stores every MatMul weight in INT8
  (symmetric, per output channel) and the CPU plugin quantizes each activation row at run time in groups of
  ``--openvino-group-size`` input channels (``DYNAMIC_QUANTIZATION_GROUP_SIZE``, recorded in the entry's
  ``compile_properties`` and set by the runtime), then multiplies in INT8. Nothing is calibrated, so nothing
  clips on creatives unlike the calibration set, and a row's scales depend on that row alone, so these graphs
  batch like the static ones;
- INT8, ``--openvino-int8 static``: ``nncf.quantize(..., model_type=TRANSFORMER)`` of vision and judge (static
  per-tensor activation ranges, SmoothQuant) calibrated on graph inputs recorded from the calibration pairs: every
  image's pixels for vision, both orders' prompt rows with the fp32 IR's image embeddings for the judge. Its
  ranges are those of the calibration set: calibrate on the user's own creatives (``--calib``). The decoder
  graphs are weight-compressed as in the dynamic form.

``overflow_fix`` ENABLE keeps every static INT8 weight in a 7-bit range, for the reason ``quantize.DYNAMIC_SETTINGS``
gives: CPUs without VNNI (AVX2, AVX-512 core) add u8 x s8 pairs in a saturating int16. Telemetry is
turned off (``openvino_engine.disable_telemetry``) before openvino or nncf is imported.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from creative4u_small.export import parity as P
from creative4u_small.export.export_config import DYNAMIC_GROUP_SIZE
from creative4u_small.export.export_run import ExportRun
from creative4u_small.export.quantize import MIN_QUANT_COLUMNS
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines import openvino_engine

QUANTIZED_GRAPHS = (mf.VISION, mf.JUDGE, mf.JUDGE_EXTEND)  # what --openvino-int8 static calibrates
INT8_SETTINGS = {
    "method": "nncf.quantize (post-training, static)",
    "model_type": "TRANSFORMER",
    "preset": "MIXED: weights int8 symmetric per output channel, activations uint8/int8 asymmetric per tensor",
    "overflow_fix": "ENABLE: every weight in a 7-bit range, so CPUs without VNNI compute what a VNNI CPU computes",
    "smooth_quant": "NNCF's transformer default (alpha 0.95 on MatMuls)",
    "float_by_design": "softmax, normalisation, GELU and residual adds (the transformer preset quantizes none of "
                       "them); OpenVINO runs them in f32. Compute ops left float are listed in kept_float",
}
COMPRESS_SETTINGS = {
    "method": "nncf.compress_weights (weights INT8) + the CPU plugin's dynamic activation quantization",
    "mode": "INT8_SYM: MatMul and embedding weights int8 per output channel (the MatMuls in kept_float stay f32)",
}


def _ov():
    openvino_engine.disable_telemetry()
    import openvino as ov  # the openvino extra: only `c4u export --openvino` needs it

    return ov


def _nncf():
    openvino_engine.disable_telemetry()
    import nncf  # the export extra

    return nncf


def check_openvino() -> None:
    """Refuse ``--openvino`` before any work when openvino or nncf is missing."""
    try:
        _ov()
        _nncf()
    except ImportError as e:
        raise RuntimeError(f"--openvino needs openvino and nncf ({e}): pip install 'creative4u-small[export-openvino]'") from None


def convert(src: Path, dst: Path) -> None:
    """fp32 IR (``dst`` .xml + .bin) of the ONNX graph ``src`` (external data beside it is read too)."""
    ov = _ov()
    ov.save_model(ov.convert_model(str(src)), str(dst), compress_to_fp16=False)


COMPUTE_OPS = ("MatMul", "Convolution", "ScaledDotProductAttention")
DEQUANTIZED = ("FakeQuantize", "Multiply<Convert<Constant", "Multiply<Subtract<Convert<Constant")


def _source(value) -> str:
    """How an input is made: ``FakeQuantize`` (INT8 activation), ``Multiply<Convert<Constant`` (INT8 weight), ..."""
    node, chain = value.get_node(), []
    while True:
        chain.append(node.get_type_name())
        if chain[-1] not in ("Multiply", "Subtract", "Convert") or len(chain) > 4:
            return "<".join(chain)
        node = node.input_value(0).get_node()


def int8_inventory(model) -> dict:
    """Which compute ops (MatMul, Convolution, attention) of a quantized IR take only INT8 inputs, by type, and the
    names of those that stay float."""
    counts: dict = collections.defaultdict(lambda: {"int8": 0, "float": 0})
    kept = []
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind not in COMPUTE_OPS:
            continue
        inputs = range(min(op.get_input_size(), 3))  # SDPA: q, k, v (the mask and scale stay float by design)
        int8 = all(_source(op.input_value(i)) in DEQUANTIZED for i in inputs)
        counts[kind]["int8" if int8 else "float"] += 1
        if not int8:
            kept.append(f"{kind} {op.get_friendly_name()}")
    return {"compute_ops": dict(counts), "kept_float": kept}


def quantize_ir(src: Path, dst: Path, feeds: list[dict], smooth_quant_alpha: float | None = None, float_names: tuple = ()) -> dict:
    """NNCF post-training INT8 of the fp32 IR ``src`` calibrated on ``feeds``; returns the settings and what stayed float.
    ``smooth_quant_alpha`` (MatMuls; negative: off) and ``float_names`` (the nodes NNCF is to leave float) are
    the knobs ``benchmarks/openvino_int8_forms.py`` compares; the export uses NNCF's transformer defaults."""
    ov, nncf = _ov(), _nncf()
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters, OverflowFix

    advanced = AdvancedQuantizationParameters(overflow_fix=OverflowFix.ENABLE)
    if smooth_quant_alpha is not None:
        advanced.smooth_quant_alphas = AdvancedSmoothQuantParameters(matmul=smooth_quant_alpha)
    ignored = nncf.IgnoredScope(names=list(float_names), validate=False) if float_names else None
    model = nncf.quantize(ov.Core().read_model(str(src)), nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER,
                          subset_size=len(feeds), advanced_parameters=advanced, **({"ignored_scope": ignored} if ignored else {}))
    inventory = int8_inventory(model)
    ov.save_model(model, str(dst), compress_to_fp16=False)
    return {**INT8_SETTINGS, "nncf": nncf.__version__, "calibration_samples": len(feeds), **inventory}


def small_weight_matmuls(model, min_weights: int, min_columns: int = MIN_QUANT_COLUMNS) -> list[str]:
    """Names of the weight MatMuls of ``model`` (an OpenVINO model) with fewer than ``min_weights`` weights or fewer than
    ``min_columns`` outputs: the ones the ONNX Runtime INT8 graphs keep float by the same rule (``quantize.float_weight_nodes``)."""
    names = []
    for op in model.get_ordered_ops():
        if op.get_type_name() != "MatMul":
            continue
        weight = op.input_value(1).get_node()
        while weight.get_type_name() == "Convert":
            weight = weight.input_value(0).get_node()
        shape = op.input(1).get_partial_shape()
        if weight.get_type_name() != "Constant" or not shape.is_static or len(shape) != 2:
            continue
        rows, cols = shape.to_shape()
        outputs = rows if op.get_attributes().get("transpose_b") else cols
        if rows * cols < min_weights or outputs < min_columns:
            names.append(op.get_friendly_name())
    return names


def compress_ir(src: Path, dst: Path, min_weights: int = 0, group_size: int = DYNAMIC_GROUP_SIZE) -> dict:
    """INT8 weights of the fp32 IR ``src`` into ``dst``, weight MatMuls with fewer than ``min_weights`` weights (or a
    narrow head's few outputs) kept float; its activations are quantized at run time in groups of ``group_size`` input channels (0: not at all, the
    products then run in f32 on decompressed weights)."""
    ov, nncf = _ov(), _nncf()
    model = ov.Core().read_model(str(src))
    kept = small_weight_matmuls(model, min_weights)
    ignored = {"ignored_scope": nncf.IgnoredScope(names=kept, validate=False)} if kept else {}
    model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_SYM, **ignored)
    ov.save_model(model, str(dst), compress_to_fp16=False)
    activations = (f"quantized at run time per row, {group_size} input channels per scale (no calibration)" if group_size
                   else "float: weights decompressed to f32 (no run-time activation quantization)")
    return {**COMPRESS_SETTINGS, "activations": activations, "compile_properties": {"DYNAMIC_QUANTIZATION_GROUP_SIZE": str(group_size)},
            "nncf": nncf.__version__, "min_weights": min_weights, "kept_float": kept}


class OpenVinoVerdictDriver(P.VerdictDriver):
    """The vision and judge IR on OpenVINO's CPU plugin, as the runtime opens them (``runtime.engines.openvino_engine``)."""

    def __init__(self, vision: Path, judge: Path, precision: str, threads: int = 0, properties: dict | None = None):
        self.vision = openvino_engine.open_ir(vision, precision, threads, properties=properties)
        self.judge = openvino_engine.open_ir(judge, precision, threads, properties=properties)

    def image_embeds(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.vision.run({mf.VISION_INPUTS[0]: pixel_values.astype(np.float32)})[mf.VISION_OUTPUTS[0]]

    def judge_logits(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.judge.run(feeds)[mf.JUDGE_OUTPUTS[0]]


def calibration_feeds(processor, items, batch_size: int, vision) -> tuple[list[dict], list[dict]]:
    """(vision feeds: one image each; judge feeds: one pair's two order rows each) from the calibration pairs,
    the judge's image embeddings computed by ``vision`` (a ``VerdictDriver``) as the runtime would."""
    vision_feeds, judge_feeds = [], []
    for b in P.batches(processor, items, batch_size):
        pixels = b.pixel_values.numpy().astype(np.float32)
        vision_feeds += [{mf.VISION_INPUTS[0]: pixels[i: i + 1]} for i in range(len(pixels))]
        emb, index = vision.image_embeds(pixels), b.image_index.numpy()
        rows = emb[index].reshape(index.shape[0], -1, emb.shape[-1])
        ids, mask = b.input_ids.numpy(), b.attention_mask.numpy()
        for r in range(0, len(index), len(P.ORDERS)):
            judge_feeds.append(dict(zip(mf.JUDGE_INPUTS, (ids[r: r + 2], mask[r: r + 2], rows[r: r + 2]))))
    return vision_feeds, judge_feeds


def _extend_feeds(run: ExportRun, drv: "OpenVinoVerdictDriver", judge_feeds: list[dict]) -> list[dict]:
    """The ``judge_extend`` inputs the runtime's prefix-reuse judge makes for the calibration pairs (head, image A
    prefix and rest calls), recorded while the fp32 IR runs them."""
    from creative4u_small.runtime.prefix_judge import PrefixJudge

    graph, recorded = openvino_engine.open_ir(run.tmp / f"{mf.JUDGE_EXTEND}.{mf.OPENVINO_FP32}.xml", "fp32", run.cfg.threads), []

    def record(name: str, feeds: dict) -> dict:
        recorded.append(feeds)
        return graph.run(feeds)

    judge = PrefixJudge(record, run.spec, run.dims, per_call=1)
    for feed in judge_feeds:  # one pair's two order rows each: (ids, mask, [A rows, B rows]) of the AB row first
        ids = feed[mf.JUDGE_INPUTS[0]][0][feed[mf.JUDGE_INPUTS[1]][0] > 0].tolist()
        a, b = np.split(feed[mf.JUDGE_INPUTS[2]][0], 2)
        judge.logits([(ids, a, b)])
    return recorded


def _entry(key: str, source: str, entries: dict, precision: str, exporter: str, settings: dict) -> mf.GraphEntry:
    """A manifest entry for an IR: the inputs and outputs of the ONNX graph it was made from."""
    onnx_entry = entries[source]
    return mf.GraphEntry(f"{key}.xml", onnx_entry.inputs, onnx_entry.outputs, precision, exporter, source, settings,
                         {"fused": {}, "reason": "OpenVINO applies its own fusions when it compiles the IR"})


def export_openvino(run: ExportRun) -> None:
    """fp32 and INT8 IR of every graph into the run's folder and entries (``--openvino-int8`` says how vision and judge
    are made INT8); what calibrated them goes into ``run.calibration["openvino"]``."""
    graphs = [k for k in mf.GRAPHS if k in run.entries]
    for i, key in enumerate(graphs):
        run.progress("OpenVINO IR (fp32)", i, len(graphs))
        convert(run.unfused_file(key), run.tmp / f"{key}.{mf.OPENVINO_FP32}.xml")
        run.entries[f"{key}.{mf.OPENVINO_FP32}"] = _entry(f"{key}.{mf.OPENVINO_FP32}", key, run.entries, "fp32", "openvino.convert_model", {})
    static = run.cfg.openvino_int8 == "static"
    feeds = _static_feeds(run) if static else {}
    for i, key in enumerate(graphs):
        run.progress(f"OpenVINO IR (INT8, {run.cfg.openvino_int8})", i, len(graphs))
        src, int8 = run.tmp / f"{key}.{mf.OPENVINO_FP32}.xml", f"{key}.{mf.OPENVINO_INT8}"
        if static and key in QUANTIZED_GRAPHS:
            settings = quantize_ir(src, run.tmp / f"{int8}.xml", feeds[key]) | {"calibration": run.calibration["openvino"]}
            run.entries[int8] = _entry(int8, key, run.entries, "int8", "nncf.quantize", settings)
        else:
            settings = compress_ir(src, run.tmp / f"{int8}.xml", run.cfg.int8_min_weights, run.cfg.openvino_group_size)
            run.entries[int8] = _entry(int8, key, run.entries, "int8", "nncf.compress_weights", settings)


def _static_feeds(run: ExportRun) -> dict[str, list[dict]]:
    """Calibration feeds of the static INT8 IR: the calibration pairs' pixels, their judge rows on the fp32 IR's features,
    and what the prefix-reuse judge feeds ``judge_extend`` for them."""
    drv = OpenVinoVerdictDriver(run.tmp / f"{mf.VISION}.{mf.OPENVINO_FP32}.xml", run.tmp / f"{mf.JUDGE}.{mf.OPENVINO_FP32}.xml",
                                "fp32", run.cfg.threads)
    feeds = dict(zip((mf.VISION, mf.JUDGE), calibration_feeds(run.processor, run.calib_items, run.cfg.batch_size, drv)))
    if mf.JUDGE_EXTEND in run.entries:
        feeds[mf.JUDGE_EXTEND] = _extend_feeds(run, drv, feeds[mf.JUDGE])
    run.calibration["openvino"] = {
        "pairs": len(run.calib_items), "vision_images": len(feeds[mf.VISION]), "judge_pairs": len(feeds[mf.JUDGE]),
        "inputs": "graph inputs recorded from the calibration pairs (pixels; both orders' prompt rows with the fp32 IR's image embeddings)"}
    return feeds


def parity(run: ExportRun) -> dict:
    """``openvino-fp32`` and ``openvino-int8``: the vision and judge IR against the PyTorch reference, under the
    fp32 and INT8 floors of the ONNX graphs."""
    out = {}
    for precision, suffix in (("fp32", mf.OPENVINO_FP32), ("int8", mf.OPENVINO_INT8)):
        run.progress(f"parity OpenVINO {precision}", 0, 1)
        vision, judge = f"{mf.VISION}.{suffix}", f"{mf.JUDGE}.{suffix}"
        drv = OpenVinoVerdictDriver(run.file(vision), run.file(judge), precision, run.cfg.threads,
                                    run.entries[judge].quantization.get("compile_properties"))
        figures = run.against_reference(run.held_logits(drv), precision)
        out[openvino_engine.OPENVINO.parity_keys[precision]] = figures | {"graphs": [vision, judge], "engine": "openvino CPU"}
    if "openvino" in run.calibration:
        out["openvino-int8"]["calibration"] = run.calibration["openvino"]
    return out
