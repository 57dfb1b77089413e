"""Runtime vs transformers, side by side in one run (drives `c4u bench`'s ``run_bench``).

Builds (once, in --workdir) a random-weight model of a preset and its fp32 + INT8 export unless
--export/--model are given, then measures the ONNX Runtime backends and the transformers
baseline on the same synthetic workload and checks these targets:

- INT8 compare on CPU >= 3x faster than transformers ``generate`` (N new tokens, min_new_tokens = N);
- INT8 compare >= 1.3x faster than fp32 ONNX;
- rank of 16 images >= 5x faster than every ordered pair through the transformers single-pass scorer.

Warm-up runs are excluded (``--warmup``); timings use ``time.perf_counter``. The last line printed
is one JSON object with the headline figures and whether each target is met.

    python benchmarks/bench_runtime.py --preset smolvlm-256m-shape --workdir /tmp/c4u_bench --runs 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

TARGETS = {
    "int8_compare_vs_generate": 3.0,
    "int8_compare_vs_fp32": 1.3,
    "rank16_vs_scorer_all_ordered_pairs": 5.0,
}


def ensure_export(preset: str, workdir: Path, calib_pairs: int, batch_size: int) -> tuple[Path, Path]:
    """(model folder, export folder) for ``preset`` under ``workdir``, built on first use."""
    from creative4u_small.runtime.manifest import MANIFEST_FILE

    model, export = workdir / "model", workdir / "export"
    if not (model / "config.json").is_file():
        from creative4u_small.modeling.model_init import init_model

        print(f"initialising {preset} into {model}", flush=True)
        init_model(preset, model, seed=0, overwrite=True)
    if not (export / MANIFEST_FILE).is_file():
        from creative4u_small.export.export_config import ExportConfig
        from creative4u_small.export.exporter import run_export

        print(f"exporting {model} (fp32 + INT8) into {export}", flush=True)
        # small parity batches: a 512 px batch of 8 pairs needs > 20 GB
        run_export(ExportConfig(model=model, out=export, int8=True, calib_pairs=calib_pairs, batch_size=batch_size, overwrite=True),
                   lambda stage, done, total: print(f"  {stage} {done}/{total}", flush=True))
    return model, export


def headline(report: dict, backend: str = "cpu") -> dict:
    """The figures the targets are about, with pass/fail."""
    ratios = report["ratios"]
    int8, fp32 = ratios.get(f"{backend}/int8", {}), ratios.get(f"{backend}/fp32", {})
    figures = {
        "int8_compare_vs_generate": int8.get("compare_vs_generate"),
        "int8_compare_vs_fp32": int8.get("compare_vs_fp32"),
        "rank16_vs_scorer_all_ordered_pairs": int8.get("rank16_vs_scorer_all_ordered_pairs"),
        "fp32_rank16_vs_scorer_all_ordered_pairs": fp32.get("rank16_vs_scorer_all_ordered_pairs"),
        "int8_compare_explain_vs_generate": int8.get("compare_explain_vs_generate"),
        "fp32_compare_vs_generate": fp32.get("compare_vs_generate"),
    }
    met = {k: (figures[k] is not None and figures[k] >= t) for k, t in TARGETS.items()}
    ms = {k: v["compare_ms"]["p50"] for k, v in report["backends"].items() if "compare_ms" in v}
    base = report.get("baseline", {})
    ms.update({"transformers_generate": base.get("generate_ms", {}).get("p50"), "transformers_scorer": base.get("scorer_compare_ms", {}).get("p50")})
    return {"compare_p50_ms": ms, "ratios": figures, "targets": TARGETS, "met": met}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="smolvlm-256m-shape")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/c4u_bench_runtime"))
    ap.add_argument("--export", type=Path, help="existing export folder (skips building one)")
    ap.add_argument("--model", type=Path, help="the model the export came from (for the transformers baseline)")
    ap.add_argument("--calib-pairs", type=int, default=2, help="parity pairs for the export (memory grows with it)")
    ap.add_argument("--export-batch-size", type=int, default=1, help="pairs per parity batch (a 512 px batch of 8 pairs needs > 20 GB)")
    ap.add_argument("--backends", default="cpu")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--rank-sizes", default="8,16")
    ap.add_argument("--generate-tokens", type=int, default=128)
    ap.add_argument("--explain-runs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path, help="JSON report (default: WORKDIR/bench.json) and a PNG beside it")
    args = ap.parse_args()

    from creative4u_small.data.synth import synthesize
    from creative4u_small.modeling.bench_baseline import bench_transformers
    from creative4u_small.runtime.bench import run_bench
    from creative4u_small.runtime.bench_config import BenchConfig

    if args.export:
        if args.model is None:
            ap.error("--export needs --model for the transformers baseline")
        model, export = args.model, args.export
    else:
        model, export = ensure_export(args.preset, args.workdir, args.calib_pairs, args.export_batch_size)
    out = args.out or (args.workdir / "bench.json")
    cfg = BenchConfig(
        export=export, backends=tuple(args.backends.split(",")), precisions=("fp32", "int8"), baseline="transformers", model=model,
        runs=args.runs, warmup=args.warmup, batch_sizes=tuple(int(x) for x in args.batch_sizes.split(",")),
        rank_sizes=tuple(int(x) for x in args.rank_sizes.split(",")), generate_tokens=args.generate_tokens,
        explain_runs=args.explain_runs, threads=args.threads, json_out=out, plot=out.with_suffix(".png"),
    )
    t0 = time.perf_counter()
    report = run_bench(cfg, lambda stage, done, total: print(f"  [{time.perf_counter() - t0:7.1f}s] {stage} {done}/{total}", flush=True),
                       workdir=args.workdir / "workload", baseline=bench_transformers, synthesize=synthesize)
    line = {"bench": "runtime", "export": str(export), "wall_s": round(time.perf_counter() - t0, 1), "report": str(out),
            "machine": {k: report["machine"][k] for k in ("cpu", "cores")}, **headline(report, cfg.backends[0])}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
