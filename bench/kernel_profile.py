"""Where a graph's time goes: kernel time by kind from ONNX Runtime's profiler and OpenVINO's performance counters,
the work of one compare in GOPs, and this CPU's measured GEMM rates on each engine to set them against."""

from __future__ import annotations

import collections
import json
import tempfile
import time
from pathlib import Path

import numpy as np

GEMM = (1024, 768, 3072)  # [m, k] x [k, n]: one large product, measured on each engine
INT8_GEMM_OPS = {"DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger", "DynamicQuantizeLinear", "QGemm", "QLinearMatMul"}
ATTENTION_OPS = {"MultiHeadAttention", "Attention", "GroupQueryAttention", "FusedMatMul", "MatMul", "Softmax"}  # float MatMuls left in an INT8 graph are attention products
GEMM_NODES = ("FullyConnected", "MatMul", "Convolution", "Gemm")  # OpenVINO node types
ATTENTION_NODES = ("ScaledDotProductAttention", "ScaledAttn", "MHA", "Softmax", "SoftMax")


def _matmul(folder: str, m: int, k: int, n: int) -> tuple[Path, np.ndarray]:
    """An ONNX graph of one [m,k]x[k,n] MatMul (random weights) saved in ``folder``, and a random input for it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((k, n)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [w])
    path = Path(folder) / "fp32.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path, np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)


def _gops(run, ops: int, runs: int) -> float:
    """GOPS of ``run()`` (``ops`` operations a call): its median over ``runs`` calls after one warm-up."""
    run()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t0)
    return ops / float(np.median(ts)) / 1e9


def gemm_rates(threads: int, m: int = GEMM[0], k: int = GEMM[1], n: int = GEMM[2], runs: int = 10) -> dict:
    """Measured GOPS of one [m,k]x[k,n] product on ONNX Runtime: dynamic INT8 (u8 x s8, as the INT8 graphs run it) and fp32."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        fp32, x = _matmul(tmp, m, k, n)
        quantize_dynamic(str(fp32), f"{tmp}/int8.onnx", per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
        for name in ("int8", "fp32"):
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            s = ort.InferenceSession(f"{tmp}/{name}.onnx", opts, providers=["CPUExecutionProvider"])
            out[f"{name}_gops"] = _gops(lambda: s.run(None, {"x": x}), 2 * m * k * n, runs)
    return out


def openvino_gemm_rates(threads: int, runs: int = 10) -> dict:
    """Measured GOPS of the ``GEMM`` product on OpenVINO: NNCF static INT8, f32 and (where the CPU has it) bf16."""
    from creative4u_small.export import openvino_ir
    from creative4u_small.runtime.engines import openvino_engine

    m, k, n = GEMM
    caps = openvino_engine.core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path, x = _matmul(tmp, m, k, n)
        openvino_ir.convert(onnx_path, Path(f"{tmp}/fp32.xml"))
        openvino_ir.quantize_ir(Path(f"{tmp}/fp32.xml"), Path(f"{tmp}/int8.xml"), [{"x": x}])
        for name, file, precision in (("int8", "int8", "int8"), ("fp32", "fp32", "fp32"), ("bf16", "fp32", "bf16")):
            if precision == "bf16" and "BF16" not in caps:
                continue
            g = openvino_engine.open_ir(f"{tmp}/{file}.xml", precision, threads)
            out[f"{name}_gops"] = _gops(lambda: g.run({"x": x}), 2 * m * k * n, runs)
    return out


def profile_ops(path: Path, feeds: dict, threads: int, runs: int) -> dict:
    """ONNX Runtime kernel milliseconds per run of ``path`` by kind (int8_gemm, attention, other), and its node count."""
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


def kind(node_type: str, exec_type: str, dynamic_int8: bool = False) -> str:
    """int8_gemm, float_gemm, attention, subgraph (OpenVINO's fused snippets: attention blocks or chains of
    element-wise ops) or other, from OpenVINO's node and kernel (exec) type. With ``dynamic_int8`` (the IR was
    compiled with a DYNAMIC_QUANTIZATION_GROUP_SIZE) a FullyConnectedCompressed layer multiplies in INT8: its kernel
    keeps the name of its f32 input (``brgemm_avx512_f32``) while it quantizes that input per group at run time."""
    low = exec_type.lower()
    if node_type.startswith(GEMM_NODES):  # FullyConnectedQuantizedLegacy and the like
        compressed_int8 = dynamic_int8 and node_type == "FullyConnectedCompressed"
        return "int8_gemm" if ("i8" in low or "u8" in low or compressed_int8) else "float_gemm"
    if node_type == "Subgraph":
        return "subgraph"
    return "attention" if node_type in ATTENTION_NODES else "other"


def profile_ir(path: Path, feeds: dict, precision: str, threads: int, runs: int, properties: dict | None = None) -> dict:
    """OpenVINO kernel milliseconds per call of the IR by kind, the top (node type, kernel) pairs, and how many nodes
    ran; ``properties``: the graph's own compile properties, as the runtime sets them."""
    from creative4u_small.runtime.engines import openvino_engine

    graph = openvino_engine.open_ir(path, precision, threads, profile=True, properties=properties)
    dynamic_int8 = int((properties or {}).get("DYNAMIC_QUANTIZATION_GROUP_SIZE", 0)) > 0
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
        per_kind[kind(node_type, exec_type, dynamic_int8)] += ms
    return {"kernel_ms": dict(per_kind), "top_ops_ms": {f"{n} [{e}]": round(ms, 3) for (n, e), ms in per_op.most_common(8)},
            "nodes": nodes // runs}


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


def rates_against(prof: dict, w: dict, gemm: dict | None = None) -> None:
    """Each graph's achieved INT8 GEMM and attention rates (``w``: ``work``'s GOPs), and with ``gemm`` (measured
    rates) the INT8 GEMM's share of the measured rate and the total kernel time; written into ``prof``."""
    for g, p in prof.items():
        ms = p["kernel_ms"]
        p["int8_gemm_gops"] = w[f"{g}_int8_gop"] / (ms["int8_gemm"] / 1000) if ms.get("int8_gemm") else None
        p["attention_gflops"] = w[f"{g}_fp32_gop"] / (ms["attention"] / 1000) if ms.get("attention") else None
        if gemm is not None:
            p["kernel_ms_total"] = round(sum(ms.values()), 3)
            p["int8_gemm_vs_measured_rate"] = p["int8_gemm_gops"] / gemm["int8_gops"] if p["int8_gemm_gops"] else None
