"""`c4u bench` as a plain function: every backend side by side with the plain transformers model.

Per backend and precision: compare latency percentiles (both orders, fresh images each time, so
preprocessing and vision are included), pairs per second at several batch sizes, rank time for
several pool sizes, the explain (rationale) time, a per-stage breakdown and peak memory. The
optional baseline runs the same workload on the PyTorch model: teacher-style ``generate`` and the
single-pass ``scorer.VerdictScorer`` (rank = every ordered pair through the scorer). Each
figure is also given as a ratio to the baseline. Warm-up runs are never timed. Torch is imported
only for the baseline.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from creative4u_small.bench.bench_config import BenchConfig
from creative4u_small.bench.machine import machine_info
from creative4u_small.bench.plot import plot_report
from creative4u_small.bench.timing import noop_progress, peak_rss_mb, percentiles, throughput
from creative4u_small.bench.transformers_baseline import bench_transformers
from creative4u_small.bench.workload import distinct_images, workload
from creative4u_small.contract.artifacts import write_json_atomic
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines import BackendError
from creative4u_small.runtime.engines.tensorrt_engine import gpu_memory_mb
from creative4u_small.runtime.probe import ProbeFailed
from creative4u_small.runtime.selector import Selector

STAGE_KEYS = ("preprocess", "vision", "judge", "explain")
BASELINES = {"transformers": bench_transformers}  # BenchConfig.baseline -> its measuring function (torch only inside)


# ---------------------------------------------------------------- the runtime


def bench_selector(sel, items, cfg: BenchConfig, progress=noop_progress, label: str = "") -> dict:
    """Figures for one loaded Selector (cache cleared before every timed call: new creatives each time)."""

    out: dict = {"describe": sel.describe()}
    cycle = itertools.cycle(items)
    for _ in range(cfg.warmup):
        sel.clear_cache()
        sel.compare(*next(cycle))
    lat, stages = [], {k: [] for k in STAGE_KEYS}
    for i in range(cfg.runs):
        progress(f"{label} compare", i, cfg.runs)
        sel.clear_cache()
        t0 = time.perf_counter()
        r = sel.compare(*items[i % len(items)])
        lat.append((time.perf_counter() - t0) * 1000)
        for k in STAGE_KEYS:
            if k in r.timings_ms:
                stages[k].append(r.timings_ms[k])
    out["compare_ms"] = percentiles(lat)

    def run_batch(batch):
        sel.clear_cache()
        t0 = time.perf_counter()
        sel.compare_many(batch)
        return time.perf_counter() - t0

    out["throughput"] = throughput(cfg, items, run_batch, label, progress)

    images = distinct_images(items)
    ranks = {}
    for n in cfg.rank_sizes:
        progress(f"{label} rank {n}", 0, 1)
        sel.clear_cache()
        t0 = time.perf_counter()
        r = sel.rank(images[:n], items[0][2], items[0][3])
        ranks[str(n)] = {"seconds": time.perf_counter() - t0, "comparisons": len(r.comparisons), "strategy": r.strategy,
                         "images_encoded": r.images_encoded, "round_robin_pairs": n * (n - 1) // 2}
    out["rank"] = ranks

    if cfg.explain_runs and cfg.generate_tokens and "decoder_prefill" in sel.graph_keys:
        ex = []
        sel.clear_cache()
        sel.compare(*items[0], explain=True, min_new_tokens=cfg.generate_tokens)  # warm-up: opens the decoder sessions
        for i in range(cfg.explain_runs):
            progress(f"{label} explain", i, cfg.explain_runs)
            sel.clear_cache()
            t0 = time.perf_counter()
            r = sel.compare(*items[i % len(items)], explain=True, min_new_tokens=cfg.generate_tokens)
            ex.append((time.perf_counter() - t0) * 1000)
            stages["explain"].append(r.timings_ms.get("explain", 0.0))
        out["compare_explain_ms"] = percentiles(ex)
    out["stages_ms"] = {k: float(np.mean(v)) for k, v in stages.items() if v}
    out["peak_rss_mb"] = peak_rss_mb()
    gpu = gpu_memory_mb(sel.config.device_id) if sel.engine.on_gpu else None
    if gpu is not None:
        out["gpu_memory_mb"] = gpu
    return out


# ---------------------------------------------------------------- ratios and the run


def ratios(report: dict) -> dict:
    """Speed-ups (baseline time / runtime time; runtime pairs/s / baseline pairs/s); >1 means the runtime is faster."""
    base = report.get("baseline") or {}
    out = {}
    for key, fig in report["backends"].items():
        if "skipped" in fig:
            continue
        r = {}
        p50 = fig["compare_ms"]["p50"]
        if "generate_ms" in base:
            r["compare_vs_generate"] = base["generate_ms"]["p50"] / p50
            if "compare_explain_ms" in fig:
                r["compare_explain_vs_generate"] = base["generate_ms"]["p50"] / fig["compare_explain_ms"]["p50"]
        if "scorer_compare_ms" in base:
            r["compare_vs_scorer"] = base["scorer_compare_ms"]["p50"] / p50
        for b, t in fig["throughput"].items():
            if b in base.get("scorer_throughput", {}):
                r[f"pairs_per_s_batch{b}_vs_scorer"] = t["pairs_per_s"] / base["scorer_throughput"][b]["pairs_per_s"]
        for n, t in fig["rank"].items():
            if n in base.get("scorer_rank_all_ordered_pairs", {}):
                r[f"rank{n}_vs_scorer_all_ordered_pairs"] = base["scorer_rank_all_ordered_pairs"][n]["seconds"] / t["seconds"]
        backend, precision = key.split("/")
        fp32 = report["backends"].get(f"{backend}/fp32", {})
        if precision != "fp32" and "compare_ms" in fp32:
            r["compare_vs_fp32"] = fp32["compare_ms"]["p50"] / p50
        out[key] = r
    return out


def run_bench(cfg: BenchConfig, progress=None, workdir: Path | None = None) -> dict:
    """Measure every requested backend/precision (and the baseline); write JSON/PNG when asked.

    The synthetic workload is rendered into ``workdir`` when given (kept), else a temporary folder.
    The JSON report is rewritten after each backend, so a long run that dies keeps what it measured.
    """

    progress = progress or noop_progress
    manifest = mf.read_manifest(cfg.export)
    report: dict = {"machine": machine_info(), "config": cfg.to_dict(), "export_status": manifest.status, "backends": {}}
    def save() -> None:
        if cfg.json_out:
            Path(cfg.json_out).parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(Path(cfg.json_out), report)

    with tempfile.TemporaryDirectory(prefix="c4u-bench-") as tmp:
        work = Path(workdir) if workdir else Path(tmp)
        if workdir and (work / "synth").exists():
            shutil.rmtree(work / "synth")
        items = workload(cfg, work, manifest.preprocessing.image_size)
        report["workload"] = {"pairs": len(items), "images": len(distinct_images(items)),
                              "source": str(cfg.pairs) if cfg.pairs else f"synthetic, {manifest.preprocessing.image_size} px, seed {cfg.seed}"}
        for backend, precision in itertools.product(cfg.backends, cfg.precisions):
            key = f"{backend}/{precision}"
            try:
                sel = Selector.load(cfg.export, backend=backend, precision=precision, threads=cfg.threads,
                                    max_new_tokens=max(cfg.generate_tokens, 1), verify_hashes=False)
            except (BackendError, mf.ManifestError, ProbeFailed) as e:
                report["backends"][key] = {"skipped": str(e)}
                continue
            report["backends"][key] = bench_selector(sel, items, cfg, progress, key)
            del sel
            save()
        if cfg.baseline:
            report["baseline"] = BASELINES[cfg.baseline](cfg, items, progress)
    report["ratios"] = ratios(report)
    save()
    if cfg.plot:
        report["plot"] = str(plot_report(report, Path(cfg.plot)))
    return report
