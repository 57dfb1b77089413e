"""Where the time goes, OpenVINO INT8 against ONNX Runtime INT8: kernel time by kind against this CPU's measured rates.

For one export holding both the ONNX Runtime INT8 graphs and the OpenVINO INT8 IR (`c4u export --int8
--openvino`): the vision graph on one creative and the judge on one compare's two order rows, as the
Selector builds them. OpenVINO's performance counters (``PERF_COUNT``, ``InferRequest.profiling_info``)
and ONNX Runtime's profiler (``fused_vs_unfused.profile_ops``) time every node; the time is summed by
kind: INT8 GEMMs (weight MatMuls/FullyConnected running an integer kernel), attention (the attention
op, or the float activation x activation products and softmax), float GEMMs, OpenVINO's fused
``Subgraph`` snippets, everything else. The
achieved INT8 GEMM rate (weight GOPs of ``fused_vs_unfused.work`` over its kernel time) is set beside
one large GEMM measured here on each engine: [1024 x 768] x [768 x 3072] in INT8 (ONNX Runtime's dynamic
u8 x s8; OpenVINO's NNCF static INT8) and fp32 (OpenVINO also bf16 where the CPU has it).
Node times are summed over ``--runs`` calls after one warm-up and divided by the calls. One JSON line last.

    python benchmarks/openvino_profile.py --export /work/ov/smol-export --model /work/ov/smol --runs 10 --threads 2
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from fused_vs_unfused import compare_feeds, gemm_rates, profile_ops, work

GEMM = (1024, 768, 3072)
GEMM_NODES = ("FullyConnected", "MatMul", "Convolution", "Gemm")
ATTENTION_NODES = ("ScaledDotProductAttention", "ScaledAttn", "MHA", "Softmax", "SoftMax")


def kind(node_type: str, exec_type: str) -> str:
    """int8_gemm, float_gemm, attention, subgraph (OpenVINO's fused snippets: attention blocks or chains of
    element-wise ops) or other, from OpenVINO's node and kernel (exec) type."""
    low = exec_type.lower()
    if node_type.startswith(GEMM_NODES):  # FullyConnectedQuantizedLegacy and the like
        return "int8_gemm" if ("i8" in low or "u8" in low) else "float_gemm"
    if node_type == "Subgraph":
        return "subgraph"
    return "attention" if node_type in ATTENTION_NODES else "other"


def profile_ir(path: Path, feeds: dict, precision: str, threads: int, runs: int) -> dict:
    """Kernel milliseconds per call of the IR by kind, the top (node type, kernel) pairs, and how many nodes ran."""
    from creative4u_small.runtime.engines import openvino_engine

    graph = openvino_engine.open_ir(path, precision, threads, profile=True)
    request = graph.compiled.create_infer_request()
    request.infer(feeds)
    per_op: collections.Counter = collections.Counter()
    nodes = 0
    for _ in range(runs):
        request.infer(feeds)
        for info in request.profiling_info:
            if info.status != info.Status.EXECUTED:
                continue
            per_op[(info.node_type, info.exec_type)] += info.real_time.total_seconds() * 1000 / runs
            nodes += 1
    per_kind: collections.Counter = collections.Counter()
    for (node_type, exec_type), ms in per_op.items():
        per_kind[kind(node_type, exec_type)] += ms
    return {"kernel_ms": dict(per_kind), "top_ops_ms": {f"{n} [{e}]": round(ms, 3) for (n, e), ms in per_op.most_common(8)},
            "nodes": nodes // runs}


def openvino_gemm_rates(threads: int, runs: int = 10) -> dict:
    """Measured GOPS of one [m,k]x[k,n] product on OpenVINO: NNCF static INT8, f32 and (where the CPU has it) bf16."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from creative4u_small.export import openvino_ir
    from creative4u_small.runtime.engines import openvino_engine

    m, k, n = GEMM
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [w])
    x = rng.standard_normal((m, k)).astype(np.float32)
    caps = openvino_engine.core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), f"{tmp}/g.onnx")
        openvino_ir.convert(Path(f"{tmp}/g.onnx"), Path(f"{tmp}/fp32.xml"))
        openvino_ir.quantize_ir(Path(f"{tmp}/fp32.xml"), Path(f"{tmp}/int8.xml"), [{"x": x}])
        for name, file, precision in (("int8", "int8", "int8"), ("fp32", "fp32", "fp32"), ("bf16", "fp32", "bf16")):
            if precision == "bf16" and "BF16" not in caps:
                continue
            g = openvino_engine.open_ir(f"{tmp}/{file}.xml", precision, threads)
            g.run({"x": x})
            ts = []
            for _ in range(runs):
                t0 = time.perf_counter()
                g.run({"x": x})
                ts.append(time.perf_counter() - t0)
            out[f"{name}_gops"] = 2 * m * k * n / float(np.median(ts)) / 1e9
    return out


def rates_against(prof: dict, w: dict, gemm: dict) -> None:
    """Achieved INT8 GEMM and attention rates of each graph's profile, and the INT8 GEMM share of the measured rate."""
    for g, p in prof.items():
        ms = p["kernel_ms"]
        p["kernel_ms_total"] = round(sum(ms.values()), 3)
        p["int8_gemm_gops"] = w[f"{g}_int8_gop"] / (ms["int8_gemm"] / 1000) if ms.get("int8_gemm") else None
        p["int8_gemm_vs_measured_rate"] = p["int8_gemm_gops"] / gemm["int8_gops"] if p["int8_gemm_gops"] else None
        p["attention_gflops"] = w[f"{g}_fp32_gop"] / (ms["attention"] / 1000) if ms.get("attention") else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True, help="export with INT8 graphs and OpenVINO IR (c4u export --int8 --openvino)")
    ap.add_argument("--model", type=Path, required=True, help="the model it was exported from (for the work estimate)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--image-size", type=int, default=512, help="side of the synthetic creative")
    args = ap.parse_args()

    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.runtime import Selector
    from creative4u_small.runtime.bench import machine_info
    from creative4u_small.data.synth import synthesize

    ort = Selector.load(args.export, backend="cpu", precision="int8", threads=args.threads)
    ov = Selector.load(args.export, backend="openvino", precision="int8", threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        p = load_pairs(synthesize(1, Path(tmp) / "pairs", seed=3, image_size=args.image_size))[0]
        item = (p.image_a, p.image_b, p.query, p.title)
        feeds = compare_feeds(ort, item)
    judge_len = feeds["judge"]["input_ids"].shape[1]
    w = work(args.model, judge_len)
    path = {name: {g: sel.export_dir / sel.manifest.graphs[sel.graph_keys[g]].file for g in ("vision", "judge")}
            for name, sel in (("ort", ort), ("openvino", ov))}
    prof = {"ort": {g: profile_ops(path["ort"][g], feeds[g], args.threads, args.runs) for g in ("vision", "judge")},
            "openvino": {g: profile_ir(path["openvino"][g], feeds[g], "int8", args.threads, args.runs) for g in ("vision", "judge")}}
    gemm = {"ort": gemm_rates(args.threads, *GEMM), "openvino": openvino_gemm_rates(args.threads)}
    for engine in prof:
        rates_against(prof[engine], w, gemm[engine])
    machine = machine_info()
    print(json.dumps({"bench": "openvino_profile", "export": str(args.export), "runs": args.runs, "threads": args.threads,
                      "cpu": machine["cpu"], "cores": machine["cores"], "int8_flags": machine["int8"]["flags"],
                      "openvino": ov.describe()["openvino"], "judge_tokens": judge_len,
                      "work_gop": w, "gemm_gops": gemm, "profile": prof,
                      "kernel_ms_ratio_ort_over_openvino": {g: prof["ort"][g]["kernel_ms_total"] / prof["openvino"][g]["kernel_ms_total"]
                                                            for g in ("vision", "judge")}}))


if __name__ == "__main__":
    main()
