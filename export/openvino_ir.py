"""OpenVINO IR beside the ONNX graphs (`c4u export --openvino`): fp32 IR, NNCF INT8, weight-compressed decoder.

- every graph: ``openvino.convert_model`` of the plain fp32 ONNX graph (before ONNX Runtime's fusions:
  OpenVINO fuses attention, norms and GELU itself, and its ONNX frontend need not know the
  ``com.microsoft`` ops), saved with ``compress_to_fp16=False`` so the fp32 IR stays fp32;
- vision and judge: ``nncf.quantize(..., model_type=TRANSFORMER)`` (static INT8 activations, symmetric
  per-channel weights, SmoothQuant), calibrated on graph inputs recorded from the export's calibration
  pairs: every image's pixels for vision, both orders' prompt rows with the fp32 IR's image embeddings
  for the judge. Static scales make an answer independent of its batch mates, so these graphs batch;
- decoder graphs: ``nncf.compress_weights`` (INT8 weights, float activations): a token-by-token loop
  gains from smaller weights, and its activations are never the same twice.

``overflow_fix`` ENABLE keeps every INT8 weight in a 7-bit range, for the reason ``quantize.DYNAMIC_SETTINGS``
gives: CPUs without VNNI (AVX2, AVX-512 core) add u8 x s8 pairs in a saturating int16. Telemetry is
turned off (``openvino_backend.disable_telemetry``) before openvino or nncf is imported.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from creative4u_small.export import parity as P
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime import openvino_backend

QUANTIZED_GRAPHS = (mf.VISION, mf.JUDGE)
COMPRESSED_GRAPHS = (mf.DECODER_PREFILL, mf.DECODER_STEP)
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
    "method": "nncf.compress_weights (weight-only)",
    "mode": "INT8_ASYM: every MatMul and embedding weight int8 per output channel with a zero point",
    "activations": "float (f32 inference precision hint)",
}


def _ov():
    openvino_backend.disable_telemetry()
    import openvino as ov  # the openvino extra: only `c4u export --openvino` needs it

    return ov


def _nncf():
    openvino_backend.disable_telemetry()
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


def quantize_ir(src: Path, dst: Path, feeds: list[dict]) -> dict:
    """NNCF post-training INT8 of the fp32 IR ``src`` calibrated on ``feeds``; returns the settings and what stayed float."""
    ov, nncf = _ov(), _nncf()
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    model = nncf.quantize(ov.Core().read_model(str(src)), nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER,
                          subset_size=len(feeds), advanced_parameters=AdvancedQuantizationParameters(overflow_fix=OverflowFix.ENABLE))
    inventory = int8_inventory(model)
    ov.save_model(model, str(dst), compress_to_fp16=False)
    return {**INT8_SETTINGS, "nncf": nncf.__version__, "calibration_samples": len(feeds), **inventory}


def compress_ir(src: Path, dst: Path) -> dict:
    """INT8 weight-only compression of the fp32 IR ``src`` into ``dst``."""
    ov, nncf = _ov(), _nncf()
    model = nncf.compress_weights(ov.Core().read_model(str(src)), mode=nncf.CompressWeightsMode.INT8_ASYM)
    ov.save_model(model, str(dst), compress_to_fp16=False)
    return {**COMPRESS_SETTINGS, "nncf": nncf.__version__}


class OpenVinoVerdictDriver(P.VerdictDriver):
    """The vision and judge IR on OpenVINO's CPU plugin, as the runtime opens them (``runtime.openvino_backend``)."""

    def __init__(self, vision: Path, judge: Path, precision: str, threads: int = 0):
        self.vision = openvino_backend.open_ir(vision, precision, threads)
        self.judge = openvino_backend.open_ir(judge, precision, threads)

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


def _entry(key: str, source: str, entries: dict, precision: str, exporter: str, settings: dict) -> mf.GraphEntry:
    """A manifest entry for an IR: the inputs and outputs of the ONNX graph it was made from."""
    onnx_entry = entries[source]
    return mf.GraphEntry(f"{key}.xml", onnx_entry.inputs, onnx_entry.outputs, precision, exporter, source, settings,
                         {"fused": {}, "reason": "OpenVINO applies its own fusions when it compiles the IR"})


def export_openvino(cfg, tmp: Path, entries: dict, processor, calib_items, progress, unfused: dict | None = None) -> dict:
    """fp32 and INT8 IR of every graph into ``tmp``/``entries``; returns what calibrated the INT8 IR."""
    unfused = unfused or {}
    graphs = [k for k in mf.GRAPHS if k in entries]
    fp32, int8 = {}, {}
    for i, key in enumerate(graphs):
        progress("OpenVINO IR (fp32)", i, len(graphs))
        fp32[key] = f"{key}.{mf.OPENVINO_FP32}"
        convert(unfused.get(key, tmp / entries[key].file), tmp / f"{fp32[key]}.xml")
        entries[fp32[key]] = _entry(fp32[key], key, entries, "fp32", "openvino.convert_model", {})
    drv = OpenVinoVerdictDriver(tmp / f"{fp32[mf.VISION]}.xml", tmp / f"{fp32[mf.JUDGE]}.xml", "fp32", cfg.threads)
    feeds = dict(zip(QUANTIZED_GRAPHS, calibration_feeds(processor, calib_items, cfg.batch_size, drv)))
    calibration = {"pairs": len(calib_items), "vision_images": len(feeds[mf.VISION]), "judge_pairs": len(feeds[mf.JUDGE]),
                   "inputs": "graph inputs recorded from the calibration pairs (pixels; both orders' prompt rows with "
                             "the fp32 IR's image embeddings)"}
    for i, key in enumerate(graphs):
        progress("OpenVINO IR (NNCF INT8)", i, len(graphs))
        int8[key] = f"{key}.{mf.OPENVINO_INT8}"
        src, dst = tmp / f"{fp32[key]}.xml", tmp / f"{int8[key]}.xml"
        if key in QUANTIZED_GRAPHS:
            settings = quantize_ir(src, dst, feeds[key]) | {"calibration": calibration}
            entries[int8[key]] = _entry(int8[key], key, entries, "int8", "nncf.quantize", settings)
        else:
            entries[int8[key]] = _entry(int8[key], key, entries, "int8", "nncf.compress_weights", compress_ir(src, dst))
    return calibration


def parity(cfg, reference, processor, items, tmp: Path, entries: dict) -> dict:
    """``openvino-fp32`` and ``openvino-int8``: the vision and judge IR against the PyTorch reference, under the
    fp32 and INT8 floors of the ONNX graphs."""
    out = {}
    for precision, suffix in (("fp32", mf.OPENVINO_FP32), ("int8", mf.OPENVINO_INT8)):
        vision, judge = f"{mf.VISION}.{suffix}", f"{mf.JUDGE}.{suffix}"
        floors = P.Floors(cfg.fp32_agreement, cfg.fp32_max_dp) if precision == "fp32" else P.Floors(cfg.int8_agreement, cfg.int8_max_dp)
        drv = OpenVinoVerdictDriver(tmp / entries[vision].file, tmp / entries[judge].file, precision, cfg.threads)
        figures = P.compare(reference, P.exported_logits(drv, processor, items, cfg.batch_size), floors, cfg.margin, cfg.min_decisive)
        out[openvino_backend.PARITY_KEY[precision]] = figures | {"graphs": [vision, judge], "engine": "openvino CPU"}
    return out

