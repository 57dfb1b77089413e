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
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from creative4u_small.contract.artifacts import versions, write_json_atomic
from creative4u_small.contract.bench_timing import distinct_images, noop_progress, peak_rss_mb, percentiles, throughput
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime import engines
from creative4u_small.runtime.engines import BackendError
from creative4u_small.runtime.engines.tensorrt_engine import gpu_memory_mb
from creative4u_small.runtime.bench_config import BenchConfig
from creative4u_small.runtime.probe import ProbeFailed
from creative4u_small.runtime.selector import Selector

STAGE_KEYS = ("preprocess", "vision", "judge", "explain")


def machine_info() -> dict:
    info = cpu_info()
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    vers = versions()
    for name in ("onnxruntime-gpu", "tensorrt", "pillow", "matplotlib"):
        try:
            vers[name] = version(name)
        except PackageNotFoundError:
            pass
    return {"cpu": info["model"], "cores": os.cpu_count(), "memory_gb": round(mem, 1) if mem else None, "platform": platform.platform(),
            "int8": {"flags": info["int8_flags"], "u8s8_kernel": info["u8s8_kernel"]},
            "available_backends": engines.available(), "versions": vers}


# ---------------------------------------------------------------- workload


def workload(cfg: BenchConfig, workdir: Path, image_size: int, synthesize=None) -> list[tuple]:
    """(image_a, image_b, query, title) items; enough for the largest batch and the largest pool. Without
    ``cfg.pairs``, ``synthesize(n, folder, seed=, image_size=) -> pairs file`` renders them (the runtime does not
    import the data generator: `c4u bench` passes ``creative4u_small.data.synth.synthesize``)."""

    need = max(max(cfg.batch_sizes, default=1), math.ceil(max(cfg.rank_sizes, default=2) / 2), cfg.runs, 2)
    if cfg.pairs is not None:
        pairs = load_pairs(cfg.pairs, check_images="decode")
    elif synthesize is None:
        raise ValueError("no pairs to measure on: give pairs (c4u bench --pairs FILE), or pass run_bench(..., synthesize=...) as `c4u bench` does")
    else:
        pairs = load_pairs(synthesize(need, Path(workdir) / "synth", seed=cfg.seed, image_size=image_size))
    items = [(p.image_a, p.image_b, p.query, p.title) for p in pairs]
    images = list(dict.fromkeys(src for a, b, _, _ in items for src in (a, b)))
    if len(items) < max(cfg.batch_sizes, default=1) or len(images) < max(cfg.rank_sizes, default=2):
        raise ValueError(f"{cfg.pairs}: {len(items)} pairs / {len(images)} distinct images are too few for batch sizes "
                         f"{list(cfg.batch_sizes)} and rank sizes {list(cfg.rank_sizes)}; give more pairs or smaller sizes")
    return items


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


# ---------------------------------------------------------------- ratios and report


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


def plot_report(report: dict, path: Path) -> Path:
    """Compare p50 and pairs/s per backend (and baseline) as one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'creative4u-small[plot]'") from None
    runs = {k: v for k, v in report["backends"].items() if "skipped" not in v}
    base = report.get("baseline") or {}
    names = list(runs) + (["transformers scorer"] if "scorer_compare_ms" in base else []) + (["transformers generate"] if "generate_ms" in base else [])
    p50 = [runs[k]["compare_ms"]["p50"] for k in runs] + ([base["scorer_compare_ms"]["p50"]] if "scorer_compare_ms" in base else []) + \
        ([base["generate_ms"]["p50"]] if "generate_ms" in base else [])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7.5))  # stacked: 880 px wide, fits a report column
    ax1.barh(names, p50, color=["tab:blue"] * len(runs) + ["tab:gray"] * (len(names) - len(runs)))
    ax1.set_xscale("log")
    ax1.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for y, v in enumerate(p50):
        ax1.text(v, y, f" {v:,.0f} ms" if v >= 10 else f" {v:.1f} ms", va="center", fontsize=8)
    ax1.set_xlabel("compare latency p50 (ms, both orders; log scale)")
    sizes = sorted({int(b) for v in runs.values() for b in v["throughput"]})
    width = 0.8 / max(1, len(runs) + bool(base.get("scorer_throughput")))
    for i, (k, v) in enumerate(runs.items()):
        ax2.bar([x + i * width for x in range(len(sizes))], [v["throughput"].get(str(s), {}).get("pairs_per_s", 0) for s in sizes], width, label=k)
    if base.get("scorer_throughput"):
        ax2.bar([x + len(runs) * width for x in range(len(sizes))],
                [base["scorer_throughput"].get(str(s), {}).get("pairs_per_s", 0) for s in sizes], width, label="transformers scorer", color="tab:gray")
    ax2.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(sizes))], [f"batch {s}" for s in sizes])
    ax2.set_ylabel("pairs per second")
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(4, len(runs) + 1), frameon=False)
    fig.suptitle(f"c4u bench: {Path(report['config']['export']).name} on {report['machine']['cpu']}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_bench(cfg: BenchConfig, progress=None, workdir: Path | None = None, baseline=None, synthesize=None) -> dict:
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
            import shutil

            shutil.rmtree(work / "synth")
        items = workload(cfg, work, manifest.preprocessing.image_size, synthesize)
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
            if baseline is None:
                raise ValueError(f"baseline {cfg.baseline!r} needs its measuring function (it imports torch, so the runtime "
                                 "does not): pass run_bench(..., baseline=bench_transformers) as `c4u bench` does")
            report["baseline"] = baseline(cfg, items, progress)
    report["ratios"] = ratios(report)
    save()
    if cfg.plot:
        report["plot"] = str(plot_report(report, Path(cfg.plot)))
    return report
