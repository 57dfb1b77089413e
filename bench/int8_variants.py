"""INT8 settings side by side on this CPU (`int8_variants.py`): speed and error of one exported graph in every INT8
form a user could pick with ``onnxruntime.quantization``."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.settings import setting
from creative4u_small.export.quantize import QUANT_OPS, FeedReader, float_weight_nodes, has_external_data, pre_process, quantizer_options
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.probe import rel_err

VARIANTS = {
    "s8-full": {"weight_type": "QInt8", "reduce_range": False},
    "s8-7bit": {"weight_type": "QInt8", "reduce_range": True},
    "u8u8": {"weight_type": "QUInt8", "reduce_range": False},
}


def build(src: Path, dst: Path, weight_type: str, reduce_range: bool) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    pre = pre_process(src, dst.with_name(dst.stem + ".pre.onnx"))
    quantize_dynamic(str(pre), str(dst), op_types_to_quantize=list(QUANT_OPS), per_channel=True, reduce_range=reduce_range,
                     weight_type=getattr(QuantType, weight_type), nodes_to_exclude=float_weight_nodes(pre),
                     use_external_data_format=has_external_data(src), extra_options=quantizer_options())
    return dst


def build_static(src: Path, dst: Path, calib: list[dict]) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    pre = pre_process(src, dst.with_name(dst.stem + ".pre.onnx"))
    reader = type("Reader", (FeedReader, CalibrationDataReader), {})(calib)
    quantize_static(str(pre), str(dst), reader, quant_format=QuantFormat.QDQ, op_types_to_quantize=list(QUANT_OPS),
                    per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=float_weight_nodes(pre), calibrate_method=CalibrationMethod.MinMax,
                    use_external_data_format=has_external_data(src), extra_options=quantizer_options())
    return dst


def build_qattention(unfused: Path, dst: Path, heads: int, hidden: int) -> Path:
    """Attention fused as one packed-QKV ``Attention`` op (ORT's clip fusion), then dynamic INT8 of it (QAttention)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    fused = dst.with_name(dst.stem + ".fused.onnx")
    optimize_model(str(unfused), model_type="clip", num_heads=heads, hidden_size=hidden, opt_level=0).save_model_to_file(str(fused))
    pre = pre_process(fused, dst.with_name(dst.stem + ".pre.onnx"))
    quantize_dynamic(str(pre), str(dst), op_types_to_quantize=["MatMul", "Gemm", "Attention"], per_channel=True, reduce_range=True,
                     weight_type=QuantType.QInt8, nodes_to_exclude=float_weight_nodes(pre), extra_options=quantizer_options())
    return dst


def feeds_for(session, batch: int, seed: int = 0) -> dict:
    """Random inputs of ``batch`` rows for every input of ``session`` (ones for integer inputs)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in session.get_inputs():
        shape = [batch if not isinstance(d, int) else d for d in i.shape]
        if "int64" in i.type:
            out[i.name] = np.ones(shape, np.int64)
        else:
            out[i.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return out


@dataclass(frozen=True)
class Int8VariantsConfig:
    CHOICES = {"graph": (mf.VISION,)}
    export: Path = setting(help="Export folder whose fp32 graph the variants are built from.")
    graph: str = setting(mf.VISION, "The graph to quantize.")
    batch: int = setting(2, "Images per call.")
    runs: int = setting(5, "Timed calls per variant (interleaved; medians reported).")
    threads: int = setting(0, "ONNX Runtime intra-op threads (0: its default).")
    calib: int = setting(8, "Random inputs that calibrate the static variant.")
    unfused_export: Path | None = setting(None, "The same model exported with --no-fuse (adds today's graph and QAttention).")
    heads: int = setting(12, "Vision attention heads (for the QAttention fusion).")
    hidden: int = setting(768, "Vision hidden size (for the QAttention fusion).")


def build_all(cfg: Int8VariantsConfig, folder: Path, session_options) -> dict[str, Path]:
    """The fp32 graph and every variant built from it under ``folder``: name -> path."""
    import onnxruntime as ort

    m = mf.read_manifest(cfg.export, verify_hashes=False)
    paths = {"fp32": cfg.export / m.graphs[cfg.graph].file}
    for name, kw in VARIANTS.items():
        paths[name] = build(paths["fp32"], folder / f"{name}.onnx", **kw)
    probe = ort.InferenceSession(str(paths["fp32"]), session_options, providers=["CPUExecutionProvider"])
    calib = [feeds_for(probe, 1, seed=100 + i) for i in range(cfg.calib)]
    paths["static-u8s8-7bit"] = build_static(paths["fp32"], folder / "static.onnx", calib)
    if cfg.unfused_export:
        um = mf.read_manifest(cfg.unfused_export, verify_hashes=False)
        unfused = cfg.unfused_export / um.graphs[cfg.graph].file
        paths["unfused-s8-7bit"] = build(unfused, folder / "unfused.onnx", **VARIANTS["s8-7bit"])
        paths["qattention"] = build_qattention(unfused, folder / "qattention.onnx", cfg.heads, cfg.hidden)
    return paths


def int8_variants(cfg: Int8VariantsConfig) -> dict:
    """Build every variant, then time them interleaved and measure each one's error against fp32 on the same inputs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if cfg.threads:
        opts.intra_op_num_threads = cfg.threads
    with tempfile.TemporaryDirectory(prefix="c4u-int8-variants-") as tmp:
        paths = build_all(cfg, Path(tmp), opts)
        sessions = {k: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for k, p in paths.items()}
        feeds = feeds_for(sessions["fp32"], cfg.batch)
        ref = sessions["fp32"].run(None, feeds)[0]
        errors = {k: rel_err(s.run(None, feeds)[0], ref) for k, s in sessions.items()}  # also the warm-up
        times = {k: [] for k in sessions}
        for _ in range(cfg.runs):
            for k, s in sessions.items():
                t0 = time.perf_counter()
                s.run(None, feeds)
                times[k].append(time.perf_counter() - t0)
        sizes = {k: sum(f.stat().st_size for f in Path(p).parent.glob(Path(p).name + "*")) for k, p in paths.items()}
    fp32 = statistics.median(times["fp32"])
    return {"machine": cpu_info(), "graph": cfg.graph, "batch": cfg.batch, "runs": cfg.runs,
            "variants": {k: {"median_s": round(statistics.median(t), 4), "speedup_vs_fp32": round(fp32 / statistics.median(t), 3),
                             "rel_err_vs_fp32": errors[k], "bytes": sizes[k]} for k, t in times.items()}}
