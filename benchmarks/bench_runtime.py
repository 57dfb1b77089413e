"""Runtime vs transformers, side by side in one run (drives `c4u bench`'s ``run_bench``).

Builds (once, in --workdir) a random-weight model of a preset and its fp32 + INT8 export unless
--export/--model are given, then measures the ONNX Runtime backends and the transformers
baseline on the same synthetic workload and checks these targets:

- INT8 compare on CPU >= 3x faster than transformers ``generate`` (N new tokens, min_new_tokens = N);
- INT8 compare >= 1.3x faster than fp32 ONNX;
- rank of 16 images >= 5x faster than every ordered pair through the transformers single-pass scorer.

With several backends (``--backends ort,openvino``; ``ort`` is ONNX Runtime's CPU backend, ``cpu``) they
are measured side by side instead, in one process, call by call alternating
(``runtime.bench_side_by_side``), at ``--precision``: compare with its vision and judge stages, rank
of ``--rank-sizes`` and compare with an explanation; the target is the second backend's compare
>= 1.4x faster than the first's (OpenVINO INT8 against ONNX Runtime INT8).

Warm-up runs are excluded (``--warmup``); timings use ``time.perf_counter``. The last line printed
is one JSON object with the headline figures and whether each target is met.

    python benchmarks/bench_runtime.py --preset smolvlm-256m-shape --workdir /tmp/c4u_bench --runs 5
    python benchmarks/bench_runtime.py --export /tmp/c4u_bench/export --backends ort,openvino --runs 20 --rank-sizes 16
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
SIDE_BY_SIDE_TARGET = 1.4  # compare p50 of the second backend against the first's
BACKEND_ALIASES = {"ort": "cpu"}


def ensure_export(preset: str, workdir: Path, calib_pairs: int, batch_size: int, openvino: bool = False) -> tuple[Path, Path]:
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

        print(f"exporting {model} (fp32 + INT8{' + OpenVINO IR' if openvino else ''}) into {export}", flush=True)
        # small parity batches: a 512 px batch of 8 pairs needs > 20 GB
        run_export(ExportConfig(model=model, out=export, int8=True, openvino=openvino, calib_pairs=calib_pairs, batch_size=batch_size,
                                overwrite=True),
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


def side_by_side_main(args, export: Path, backends: tuple[str, ...]) -> dict:
    """Every backend at ``args.precision`` in one process, alternating call by call; the JSON line's fields."""
    from creative4u_small.runtime import Selector
    from creative4u_small.runtime.bench import machine_info, workload
    from creative4u_small.runtime.bench_config import BenchConfig
    from creative4u_small.runtime.bench_side_by_side import side_by_side

    cfg = BenchConfig(export=export, backends=backends, precisions=(args.precision,), runs=args.runs, warmup=args.warmup,
                      rank_sizes=tuple(int(x) for x in args.rank_sizes.split(",")), generate_tokens=args.generate_tokens,
                      explain_runs=args.explain_runs, threads=args.threads)
    from creative4u_small.data.synth import synthesize

    reuse = {"on": (True,), "off": (False,), "both": (True, False)}[args.prefix_reuse]
    selectors = {f"{b}/{args.precision}" + ("" if on else "/no-prefix"):
                 Selector.load(export, backend=b, precision=args.precision, threads=args.threads, prefix_reuse=on,
                               max_new_tokens=max(args.generate_tokens, 1)) for b in backends for on in reuse}
    manifest = next(iter(selectors.values())).manifest
    items = workload(cfg, args.workdir / "workload", manifest.preprocessing.image_size, synthesize)
    labels = list(selectors)
    comparisons = [(labels[0], k) for k in labels[1:] if not k.endswith("/no-prefix")]
    comparisons += [(k, k[: -len("/no-prefix")]) for k in labels if k.endswith("/no-prefix")]
    t0 = time.perf_counter()
    report = side_by_side(selectors, items, cfg, lambda stage, done, total: print(f"  [{time.perf_counter() - t0:7.1f}s] {stage} "
                                                                                    f"{done}/{total}", flush=True), args.rank_runs,
                          comparisons)
    machine = machine_info()
    ratio = next(iter(report["ratios"].values()))
    return {"bench": "runtime side by side", "export": str(export), "precision": args.precision, "runs": args.runs,
            "machine": {k: machine[k] for k in ("cpu", "cores")} | {"int8_flags": machine["int8"]["flags"],
                                                                     "u8s8_kernel": machine["int8"]["u8s8_kernel"]["name"]},
            "p50_ms": {k: {m: round(v[m]["p50"], 2) for m in ("compare", "vision_per_image", "judge", "compare_explain") if m in v}
                       | {f"rank{n}_s": round(r["p50"], 3) for n, r in v.get("rank_s", {}).items()}
                       for k, v in report["backends"].items()},
            "ratios": report["ratios"], "target_compare_ratio": SIDE_BY_SIDE_TARGET,
            "met": ratio.get("compare", 0) >= SIDE_BY_SIDE_TARGET, "wall_s": round(time.perf_counter() - t0, 1), "full": report}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="smolvlm-256m-shape")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/c4u_bench_runtime"))
    ap.add_argument("--export", type=Path, help="existing export folder (skips building one)")
    ap.add_argument("--model", type=Path, help="the model the export came from (for the transformers baseline)")
    ap.add_argument("--calib-pairs", type=int, default=2, help="parity pairs for the export (memory grows with it)")
    ap.add_argument("--export-batch-size", type=int, default=1, help="pairs per parity batch (a 512 px batch of 8 pairs needs > 20 GB)")
    ap.add_argument("--backends", default="cpu", help="one backend: the runs against transformers; several (e.g. ort,openvino): "
                    "side by side, alternating")
    ap.add_argument("--precision", default="int8", help="precision of every backend side by side")
    ap.add_argument("--prefix-reuse", choices=("on", "off", "both"), default="on",
                    help="side by side: judge with prefix reuse, without, or both (each backend twice)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--rank-sizes", default="8,16")
    ap.add_argument("--rank-runs", type=int, default=1, help="side by side: timed ranks per pool size and backend")
    ap.add_argument("--generate-tokens", type=int, default=128)
    ap.add_argument("--explain-runs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path, help="JSON report (default: WORKDIR/bench.json) and a PNG beside it")
    args = ap.parse_args()
    backends = tuple(BACKEND_ALIASES.get(b, b) for b in args.backends.split(","))
    if len(backends) > 1 or args.prefix_reuse != "on":
        export = args.export or ensure_export(args.preset, args.workdir, args.calib_pairs, args.export_batch_size,
                                              openvino="openvino" in backends)[1]
        line = side_by_side_main(args, export, backends)
        out = args.out or (args.workdir / "side_by_side.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(line.pop("full"), indent=2, default=str))
        print(json.dumps(line | {"report": str(out)}))
        return

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
        export=export, backends=backends, precisions=("fp32", "int8"), baseline="transformers", model=model,
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
