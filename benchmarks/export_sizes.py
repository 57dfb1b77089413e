"""Export sizes and times: `c4u export --int8` of a preset (default `smolvlm-256m-shape`) on this CPU.

Writes the preset (random weights, the real model's dimensions, no download), then runs the
full export (fp32 graphs, dynamic INT8 graphs, parity on held-out
synthetic pairs) and reports the wall time of every stage, the size of every graph, the peak
resident memory, the parity figures, and the median ONNX Runtime latency of one pair (both
orders: vision for two images + judge for two rows) per precision. A warm-up export of the
`tiny` preset runs first so that import and first-call costs are not counted. Prints one JSON
line last.

    python benchmarks/export_sizes.py --preset smolvlm-256m-shape --pairs 8
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path


def _export(model_dir: Path, out: Path, pairs: int, threads: int, int8: bool, decoder: bool):
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import ParityFailed, run_export

    marks: list[tuple[str, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if not marks or marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))

    cfg = ExportConfig(model=model_dir, out=out, int8=int8, decoder=decoder, calib_pairs=pairs, threads=threads)
    t0 = time.perf_counter()
    try:
        summary = run_export(cfg, progress)
    except ParityFailed as e:
        summary = {"status": "failed", "error": str(e)}
    total = time.perf_counter() - t0
    stages: dict[str, float] = {}
    for (stage, start), (_, end) in zip(marks, marks[1:] + [("end", t0 + total)]):
        key = stage.split(" (")[0]
        stages[key] = round(stages.get(key, 0.0) + end - start, 2)
    return summary, round(total, 2), stages


def _latency(out: Path, precision: str, runs: int, threads: int) -> float:
    """Median seconds for one pair in both orders through the exported vision + judge graphs."""
    import numpy as np

    from creative4u_small.export.parity import OrtVerdictDriver
    from creative4u_small.runtime import manifest as mf

    m = mf.read_manifest(out, verify_hashes=False)
    suffix = "" if precision == "fp32" else ".int8"
    drv = OrtVerdictDriver(out / m.graphs[mf.VISION + suffix].file, out / m.graphs[mf.JUDGE + suffix].file, threads=threads)
    s = m.preprocessing.image_size
    rng = np.random.default_rng(0)
    length = sum(len(p["ids"]) for p in m.prompt.pieces if "ids" in p) + 2 * len(m.prompt.image_block_ids) + 12
    ids = rng.integers(10, 100, (2, length)).astype(np.int64)
    block = m.prompt.image_block_ids
    ids[:, 5: 5 + len(block)] = block
    ids[:, 9 + len(block): 9 + 2 * len(block)] = block
    mask = np.ones_like(ids)
    pixels = rng.standard_normal((2, 3, s, s)).astype(np.float32)
    index = np.array([[0, 1], [1, 0]])
    drv.logits(ids, mask, pixels, index)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        drv.logits(ids, mask, pixels, index)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smolvlm-256m-shape")
    ap.add_argument("--pairs", type=int, default=8, help="calibration pairs (and as many held-out parity pairs)")
    ap.add_argument("--threads", type=int, default=0, help="torch / onnxruntime threads (0: library default)")
    ap.add_argument("--runs", type=int, default=5, help="timed ONNX Runtime runs per precision")
    ap.add_argument("--no-decoder", action="store_true", help="skip the decoder graphs")
    ap.add_argument("--no-warmup", action="store_true")
    args = ap.parse_args()

    from creative4u_small.modeling.model_init import init_model

    with tempfile.TemporaryDirectory(prefix="c4u-bench-") as tmp:
        tmp = Path(tmp)
        if not args.no_warmup:
            init_model("tiny", tmp / "tiny")
            _export(tmp / "tiny", tmp / "tiny-export", 2, args.threads, True, False)
        t = time.perf_counter()
        init = init_model(args.preset, tmp / "model")
        init_s = round(time.perf_counter() - t, 2)
        weights = sum(p.stat().st_size for p in (tmp / "model").glob("*.safetensors"))
        out = tmp / "export"
        summary, total, stages = _export(tmp / "model", out, args.pairs, args.threads, True, not args.no_decoder)
        peak_rss_gib = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
        sizes = {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(out.glob("*.onnx*"))} if out.exists() else {}
        latency = {prec: _latency(out, prec, args.runs, args.threads) for prec in ("fp32", "int8")} if out.exists() else {}
        parity = {k: {f: v.get(f) for f in ("pairs", "decisive", "agreement", "max_abs_dlogit", "max_abs_dp_a", "status")}
                  for k, v in summary.get("parity", {}).items()}
    result = {
        "benchmark": "export_sizes", "preset": args.preset, "parameters": init["parameters"],
        "weights_mib": round(weights / 2**20, 2), "init_s": init_s, "export_s": total, "stages_s": stages,
        "graph_mib": sizes, "peak_rss_gib": peak_rss_gib, "pair_latency_s": latency, "parity_pairs": args.pairs,
        "status": summary.get("status"), "exporters": summary.get("exporters"), "parity": parity,
        "threads": args.threads or "default",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
