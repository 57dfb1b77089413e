"""Compare (both orders) on two exports of one model, side by side in one run: the fused graphs `c4u export`
writes now against the graphs as exported (`c4u export --no-fuse`), each at the precision asked (INT8 by
default); plus this CPU's limit for the same work, from its measured INT8 and fp32 GEMM rates.

Runs alternate between the two exports (new creatives every time: the embedding cache is cleared), so
both see the same machine load. Vision per image and judge per compare come from the Selector's stage
timings. The limit counts the weight GEMMs at the INT8 rate and the attention products (activation x
activation, which ONNX Runtime runs in fp32) at the fp32 rate, measured here on one large GEMM each.

With ``--profile``, ONNX Runtime's profiler then times every node of the new export's vision and judge
graphs on one compare's inputs and sums kernel time by kind: INT8 GEMMs (weight MatMuls), attention
(the fused op, or the products and softmax it is made of) and everything else; each kind's achieved
rate is set beside the rate measured for it here, to show how far the graphs are from this CPU.

    python benchmarks/fused_vs_unfused.py --base /tmp/b/export_nofuse --new /tmp/b/export --model /tmp/b/model --runs 10 --profile
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def gemm_rates(threads: int, m: int = 1024, k: int = 768, n: int = 3072, runs: int = 10) -> dict:
    """Measured GOPS of one [m,k]x[k,n] product: dynamic INT8 (u8 x s8, as the INT8 graphs run it) and fp32."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((k, n)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [w])
    fp32 = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(fp32, f"{tmp}/fp32.onnx")
        quantize_dynamic(f"{tmp}/fp32.onnx", f"{tmp}/int8.onnx", per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
        x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
        for name in ("int8", "fp32"):
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            s = ort.InferenceSession(f"{tmp}/{name}.onnx", opts, providers=["CPUExecutionProvider"])
            s.run(None, {"x": x})
            ts = []
            for _ in range(runs):
                t0 = time.perf_counter()
                s.run(None, {"x": x})
                ts.append(time.perf_counter() - t0)
            out[f"{name}_gops"] = 2 * m * k * n / float(np.median(ts)) / 1e9
    return out


INT8_GEMM_OPS = {"DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger", "DynamicQuantizeLinear", "QGemm", "QLinearMatMul"}
ATTENTION_OPS = {"MultiHeadAttention", "Attention", "GroupQueryAttention", "FusedMatMul", "MatMul", "Softmax"}  # float MatMuls left in an INT8 graph are attention products


def profile_ops(path: Path, feeds: dict, threads: int, runs: int) -> dict:
    """Kernel milliseconds per run of ``path`` by kind (int8_gemm, attention, other), and its node count."""
    import collections
    import tempfile

    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.enable_profiling, opts.profile_file_prefix = True, f"{tmp}/prof"
        if threads:
            opts.intra_op_num_threads = threads
        s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        s.run(None, feeds)
        for _ in range(runs):
            s.run(None, feeds)
        events = json.loads(Path(s.end_profiling()).read_text())
    calls = runs + 1
    per_op, nodes = collections.Counter(), 0
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"] / 1000 / calls
            nodes += 1
    per_kind = collections.Counter()
    for op, ms in per_op.items():
        per_kind["int8_gemm" if op in INT8_GEMM_OPS else "attention" if op in ATTENTION_OPS else "other"] += ms
    return {"kernel_ms": dict(per_kind), "top_ops_ms": dict(per_op.most_common(8)), "nodes": nodes // calls}


def compare_feeds(sel, item) -> dict:
    """The vision feeds of one creative and the judge feeds of one compare (both orders), as the Selector builds them."""
    from creative4u_small.runtime.preprocess import preprocess

    a, b, query, title = item
    pixels = [preprocess(src, sel.manifest.preprocessing)[None] for src in (a, b)]
    embeds = [sel.run_graph("vision", {"pixel_values": px})["image_embeds"][0] for px in pixels]
    ids = np.array([sel.tokenizer.judge_ids(query, title)] * 2, dtype=np.int64)
    return {"vision": {"pixel_values": pixels[0]},
            "judge": {"input_ids": ids, "attention_mask": np.ones_like(ids),
                      "image_embeds": np.stack([np.concatenate(embeds), np.concatenate(embeds[::-1])])}}


def work(model: Path, judge_len: int) -> dict:
    """GOP of one image through the vision tower and of one compare's two judge rows, split by where they run."""
    cfg = json.loads((Path(model) / "config.json").read_text())
    v, t = cfg["vision_config"], cfg["text_config"]
    p = (v["image_size"] // v["patch_size"]) ** 2
    h, i, L = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"]
    vision_int8 = 2 * p * L * (4 * h * h + 2 * h * i) / 1e9
    vision_fp32 = 2 * 2 * p * p * h * L / 1e9
    th, ti, tl = t["hidden_size"], t["intermediate_size"], t["num_hidden_layers"]
    kv = th * t.get("num_key_value_heads", t["num_attention_heads"]) // t["num_attention_heads"]
    rows = 2 * judge_len
    judge_int8 = 2 * rows * tl * (2 * th * th + 2 * th * kv + 3 * th * ti) / 1e9
    judge_fp32 = 2 * 2 * 2 * judge_len * judge_len * th * tl / 1e9
    return {"vision_int8_gop": vision_int8, "vision_fp32_gop": vision_fp32, "judge_int8_gop": judge_int8, "judge_fp32_gop": judge_fp32}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="export of today's graphs (c4u export --no-fuse)")
    ap.add_argument("--new", type=Path, required=True, help="export with the fused graphs (c4u export)")
    ap.add_argument("--model", type=Path, required=True, help="the model both were exported from (for the work estimate)")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--image-size", type=int, default=512, help="side of the synthetic creatives")
    ap.add_argument("--profile", action="store_true", help="also time the new export's graphs node by node, by kind")
    args = ap.parse_args()

    import tempfile

    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.data.synth import synthesize
    from creative4u_small.runtime import Selector
    from creative4u_small.runtime.bench import machine_info

    sels = {name: Selector.load(d, backend="cpu", precision=args.precision, threads=args.threads)
            for name, d in (("base", args.base), ("new", args.new))}
    with tempfile.TemporaryDirectory() as tmp:
        pairs = load_pairs(synthesize(args.runs + args.warmup, Path(tmp) / "pairs", seed=3, image_size=args.image_size))
        items = [(p.image_a, p.image_b, p.query, p.title) for p in pairs]
        figures = {name: {"compare": [], "vision": [], "judge": [], "preprocess": []} for name in sels}
        agree, dp = 0, []
        for i, item in enumerate(items):
            results = {}
            for name, sel in (sels.items() if i % 2 == 0 else reversed(list(sels.items()))):
                sel.clear_cache()
                t0 = time.perf_counter()
                results[name] = r = sel.compare(*item)
                if i >= args.warmup:
                    figures[name]["compare"].append((time.perf_counter() - t0) * 1000)
                    for k in ("vision", "judge", "preprocess"):
                        figures[name][k].append(r.timings_ms.get(k, 0.0) / (2 if k == "vision" else 1))
            agree += results["base"].winner == results["new"].winner
            dp.append(abs(results["base"].p_a - results["new"].p_a))
        feeds = compare_feeds(sels["new"], items[0]) if args.profile else None
    med = {name: {k: float(np.median(v)) for k, v in f.items()} for name, f in figures.items()}
    judge_len = len(sels["new"].tokenizer.judge_ids(items[0][2], items[0][3]))
    rates = gemm_rates(args.threads)
    w = work(args.model, judge_len)
    limit = {"vision_ms_per_image": 1000 * (w["vision_int8_gop"] / rates["int8_gops"] + w["vision_fp32_gop"] / rates["fp32_gops"]),
             "judge_ms_per_compare": 1000 * (w["judge_int8_gop"] / rates["int8_gops"] + w["judge_fp32_gop"] / rates["fp32_gops"])}
    machine = machine_info()
    line = {
        "bench": "fused_vs_unfused", "precision": args.precision, "runs": args.runs, "image_size": args.image_size,
        "cpu": machine["cpu"], "cores": machine["cores"], "int8_flags": machine["int8"]["flags"],
        "u8s8_kernel": machine["int8"]["u8s8_kernel"]["name"],
        "median_ms": med, "compare_speedup": med["base"]["compare"] / med["new"]["compare"],
        "vision_speedup": med["base"]["vision"] / med["new"]["vision"], "judge_speedup": med["base"]["judge"] / med["new"]["judge"],
        "verdicts_agreeing": f"{agree}/{len(items)}", "max_dp_a_base_vs_new": float(max(dp)),
        "gemm_gops": rates, "work_gop": w, "judge_tokens": judge_len, "limit_ms": limit,
        "new_vs_limit": {"vision": med["new"]["vision"] / limit["vision_ms_per_image"],
                         "judge": med["new"]["judge"] / limit["judge_ms_per_compare"]},
        "target_compare_speedup": 1.3,
    }
    line["met"] = line["compare_speedup"] >= line["target_compare_speedup"]
    if args.profile:
        new = sels["new"]
        prof = {g: profile_ops(new.export_dir / new.manifest.graphs[new.graph_keys[g]].file, feeds[g], args.threads, args.runs)
                for g in ("vision", "judge")}
        for g in prof:  # vision: one image; judge: one compare's two rows, as in work()
            ms = prof[g]["kernel_ms"]
            prof[g]["int8_gemm_gops"] = w[f"{g}_int8_gop"] / (ms["int8_gemm"] / 1000) if ms.get("int8_gemm") else None
            prof[g]["attention_gflops"] = w[f"{g}_fp32_gop"] / (ms["attention"] / 1000) if ms.get("attention") else None
        line["profile"] = prof
    print(json.dumps(line))


if __name__ == "__main__":
    main()
