"""INT8 settings side by side on this CPU: speed and error of one exported graph.

Builds, from an export's fp32 ``vision`` graph (fused by ``c4u export`` unless it ran with ``--no-fuse``),
the INT8 variants a user could pick with ``onnxruntime.quantization``:

- ``s8-full``: dynamic, int8 weights in the full range (ONNX Runtime's default; saturates without VNNI),
- ``s8-7bit``: dynamic, int8 weights in [-64, 64] (``reduce_range``; what ``c4u export --int8`` writes),
- ``u8u8``: dynamic, uint8 weights (no saturation either, but no VNNI kernel),
- ``static-u8s8-7bit``: static QDQ, uint8 activations calibrated (MinMax) on ``--calib`` random inputs,
  7-bit int8 weights: no run-time range pass, the form ONNX Runtime's CPU kernels prefer,

and, with ``--unfused-export`` (the same model exported with ``--no-fuse``), today's graph and the
fused-op variant: ``unfused-s8-7bit`` (the dynamic INT8 graph before fusions) and ``qattention``
(attention fused as one ``Attention`` op with packed Q/K/V weights, quantized to ``QAttention``),

then times each (median of ``--runs``, variants interleaved so drift in machine load hits all
alike) and measures its relative output error against fp32 on the same inputs. The CPU model,
its INT8 flags and the kernel they select are recorded. Prints one JSON line last.

    python benchmarks/int8_variants.py --export exports/smolvlm --graph vision --runs 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

VARIANTS = {
    "s8-full": {"weight_type": "QInt8", "reduce_range": False},
    "s8-7bit": {"weight_type": "QInt8", "reduce_range": True},
    "u8u8": {"weight_type": "QUInt8", "reduce_range": False},
}


def build(src: Path, dst: Path, weight_type: str, reduce_range: bool) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from creative4u_small.export.quantize import QUANT_OPS, float_weight_nodes, has_external_data, pre_process, quantizer_options

    pre = pre_process(src, dst.with_name(dst.stem + ".pre.onnx"))
    quantize_dynamic(str(pre), str(dst), op_types_to_quantize=list(QUANT_OPS), per_channel=True, reduce_range=reduce_range,
                     weight_type=getattr(QuantType, weight_type), nodes_to_exclude=float_weight_nodes(pre),
                     use_external_data_format=has_external_data(src), extra_options=quantizer_options())
    return dst


def build_static(src: Path, dst: Path, calib: list[dict]) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    from creative4u_small.export.quantize import QUANT_OPS, FeedReader, float_weight_nodes, has_external_data, pre_process, quantizer_options

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

    from creative4u_small.export.quantize import float_weight_nodes, pre_process, quantizer_options

    fused = dst.with_name(dst.stem + ".fused.onnx")
    optimize_model(str(unfused), model_type="clip", num_heads=heads, hidden_size=hidden, opt_level=0).save_model_to_file(str(fused))
    pre = pre_process(fused, dst.with_name(dst.stem + ".pre.onnx"))
    quantize_dynamic(str(pre), str(dst), op_types_to_quantize=["MatMul", "Gemm", "Attention"], per_channel=True, reduce_range=True,
                     weight_type=QuantType.QInt8, nodes_to_exclude=float_weight_nodes(pre), extra_options=quantizer_options())
    return dst


def feeds_for(session, batch: int, seed: int = 0) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = {}
    for i in session.get_inputs():
        shape = [batch if not isinstance(d, int) else d for d in i.shape]
        if "int64" in i.type:
            out[i.name] = np.ones(shape, np.int64)
        else:
            out[i.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return out


def main() -> None:
    import onnxruntime as ort

    from creative4u_small.contract.cpu_info import cpu_info
    from creative4u_small.runtime import manifest as mf
    from creative4u_small.runtime.probe import rel_err

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--graph", default=mf.VISION, choices=[mf.VISION])
    ap.add_argument("--batch", type=int, default=2, help="images per call")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--calib", type=int, default=8, help="random inputs that calibrate the static variant")
    ap.add_argument("--unfused-export", type=Path, help="the same model exported with --no-fuse (adds today's graph and QAttention)")
    ap.add_argument("--heads", type=int, default=12, help="vision attention heads (for the QAttention fusion)")
    ap.add_argument("--hidden", type=int, default=768, help="vision hidden size (for the QAttention fusion)")
    args = ap.parse_args()

    m = mf.read_manifest(args.export, verify_hashes=False)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if args.threads:
        opts.intra_op_num_threads = args.threads
    with tempfile.TemporaryDirectory(prefix="c4u-int8-variants-") as tmp:
        paths = {"fp32": args.export / m.graphs[args.graph].file}
        for name, kw in VARIANTS.items():
            paths[name] = build(paths["fp32"], Path(tmp) / f"{name}.onnx", **kw)
        probe = ort.InferenceSession(str(paths["fp32"]), opts, providers=["CPUExecutionProvider"])
        calib = [feeds_for(probe, 1, seed=100 + i) for i in range(args.calib)]
        paths["static-u8s8-7bit"] = build_static(paths["fp32"], Path(tmp) / "static.onnx", calib)
        if args.unfused_export:
            um = mf.read_manifest(args.unfused_export, verify_hashes=False)
            unfused = args.unfused_export / um.graphs[args.graph].file
            paths["unfused-s8-7bit"] = build(unfused, Path(tmp) / "unfused.onnx", **VARIANTS["s8-7bit"])
            paths["qattention"] = build_qattention(unfused, Path(tmp) / "qattention.onnx", args.heads, args.hidden)
        sessions = {k: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for k, p in paths.items()}
        feeds = feeds_for(sessions["fp32"], args.batch)
        ref = sessions["fp32"].run(None, feeds)[0]
        errors = {k: rel_err(s.run(None, feeds)[0], ref) for k, s in sessions.items()}  # also the warm-up
        times = {k: [] for k in sessions}
        for _ in range(args.runs):
            for k, s in sessions.items():
                t0 = time.perf_counter()
                s.run(None, feeds)
                times[k].append(time.perf_counter() - t0)
        sizes = {k: sum(f.stat().st_size for f in Path(p).parent.glob(Path(p).name + "*")) for k, p in paths.items()}
    fp32 = statistics.median(times["fp32"])
    result = {"machine": cpu_info(), "graph": args.graph, "batch": args.batch, "runs": args.runs,
              "variants": {k: {"median_s": round(statistics.median(t), 4), "speedup_vs_fp32": round(fp32 / statistics.median(t), 3),
                               "rel_err_vs_fp32": errors[k], "bytes": sizes[k]} for k, t in times.items()}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
