"""Ranking at scale (`rank_scale.py`): the tournament schedule against a full round robin, on the simulated judge
and on a real export."""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from creative4u_small.bench.simulated_judge import SimulatedJudge, SimulatedJudgeConfig, recovery
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.settings import setting
from creative4u_small.data.synth.generate import synthesize
from creative4u_small.runtime import tournament
from creative4u_small.runtime.selector import Selector


@dataclass(frozen=True)
class RankScaleConfig:
    CHOICES = {"precision": ("auto", "fp32", "int8")}
    sizes: tuple[int, ...] = setting((64, 256), "Pool sizes for the simulated judge (empty: none).")
    seeds: int = setting(200, "Pools (judges) per size.")
    top_k: int = setting(5, "top_k asked of the rank.")
    quality_sd: float = setting(1.0, "Spread of the simulated items' hidden qualities (logits).")
    noise_sd: float = setting(1.0, "Sd of the simulated judge's per-pair logit error.")
    budget_factor: float = setting(1.0, "Schedule budget as a multiple of the default (tournament.budget_for).")
    export: Path | None = setting(None, "Export folder: also time a real rank against every pair.")
    images: int = setting(64, "Pool size for the real rank.")
    runs: int = setting(3, "Timed runs per variant of the real rank (interleaved; medians reported).")
    precision: str = setting("auto", "Precision of the real rank.")
    threads: int = setting(0, "ONNX Runtime intra-op threads of the real rank.")
    work: Path = setting(Path("rank_scale_images"), "Folder for the generated creatives of the real rank.")

    def __post_init__(self):
        if self.seeds < 1 or self.top_k < 1 or self.images < 2 or self.runs < 1:
            raise ValueError("seeds, top_k and runs must be at least 1, images at least 2")


def simulate(cfg: RankScaleConfig, n: int) -> dict:
    """Top-1 and top-5 recovery of ``cfg.seeds`` simulated pools of ``n``: the schedule and a full round robin."""
    seeds, top_k, quality_sd, noise_sd, budget_factor = cfg.seeds, cfg.top_k, cfg.quality_sd, cfg.noise_sd, cfg.budget_factor
    rows = {"schedule": [], "round_robin": []}
    comparisons, calls = [], []
    for seed in range(seeds):
        judge = SimulatedJudge(SimulatedJudgeConfig(n, quality_sd, noise_sd, seed))
        truth = judge.best(max(top_k, 5))
        sched = tournament.run(n, judge, top_k=top_k, seed=seed, budget=round(budget_factor * tournament.budget_for(n)))
        comparisons.append(len(sched.comparisons))
        calls.append(len(judge.calls))
        full = tournament.run(n, judge, top_k=top_k, round_robin_max=n)
        for name, result in (("schedule", sched), ("round_robin", full)):
            rows[name].append((recovery(result.order, truth, 1), recovery(result.order, truth, 5)))
    out = {"n": n, "seeds": seeds, "top_k": top_k, "quality_sd": quality_sd, "noise_sd": noise_sd, "budget_factor": budget_factor,
           "comparisons": max(comparisons), "judge_calls": max(calls),
           "n_log2_n": round(n * math.log2(n)), "budget": round(budget_factor * tournament.budget_for(n)), "round_robin_comparisons": n * (n - 1) // 2}
    for idx, k in ((0, 1), (1, 5)):
        s = np.array([r[idx] for r in rows["schedule"]])
        f = np.array([r[idx] for r in rows["round_robin"]])
        d = s - f
        out[f"top{k}_schedule_pct"] = round(100 * s.mean(), 2)
        out[f"top{k}_round_robin_pct"] = round(100 * f.mean(), 2)
        out[f"top{k}_gap_points"] = round(100 * d.mean(), 2)
        out[f"top{k}_gap_se_points"] = round(100 * d.std(ddof=1) / math.sqrt(len(d)), 2) if len(d) > 1 else None
    return out


def real_export(cfg: RankScaleConfig) -> dict:
    """Rank ``cfg.images`` synthetic creatives with the schedule and with every pair, interleaved, ``cfg.runs`` times."""
    export, images, runs, top_k, folder = str(cfg.export), cfg.images, cfg.runs, cfg.top_k, cfg.work
    if not (folder / "img").is_dir() or len(list((folder / "img").iterdir())) < images:
        synthesize((images + 1) // 2, folder, seed=0)
    pool = sorted((folder / "img").iterdir())[:images]
    sel = Selector.load(cfg.export, backend="cpu", precision=cfg.precision, threads=cfg.threads)
    schedule_cfg, every_cfg = sel.config, replace(sel.config, round_robin_max=images)
    sel.rank(pool[:4], "trail running shoes", "Trail shoe")  # warm-up: sessions and allocators
    times: dict[str, list[float]] = {"schedule": [], "every_pair": []}
    results = {}
    for _ in range(runs):
        for name, config in (("schedule", schedule_cfg), ("every_pair", every_cfg)):
            sel.config = config
            sel.clear_cache()
            t0 = time.perf_counter()
            results[name] = sel.rank(pool, "trail running shoes", "Trail shoe", top_k=top_k)
            times[name].append(time.perf_counter() - t0)
    sched, every = results["schedule"], results["every_pair"]
    out = {"export": export, "images": images, "runs": runs, "precision": sel.precision, "backend": sel.backend,
           "batch_size": sel.config.batch_size, "top_k": top_k}
    for name, r in results.items():
        out[name] = {"median_seconds": round(statistics.median(times[name]), 3), "seconds": [round(t, 3) for t in times[name]],
                     "comparisons": len(r.comparisons), "rounds": r.rounds, "strategy": r.strategy,
                     "images_encoded": r.images_encoded, "vision_ms": r.timings_ms.get("vision"),
                     "judge_ms": r.timings_ms.get("judge")}
    out["speedup"] = round(statistics.median(times["every_pair"]) / statistics.median(times["schedule"]), 2)
    out["comparison_ratio"] = round(len(every.comparisons) / len(sched.comparisons), 2)
    out["top1_same"] = sched.order[0] == every.order[0]
    out["topk_overlap"] = len(set(sched.order[:top_k]) & set(every.order[:top_k])) / top_k
    return out


def rank_scale(cfg: RankScaleConfig) -> dict:
    """The real rank (with an export) and every simulated size, a line each as it ends; the whole result."""
    result = {"machine": cpu_info(), "simulated": []}
    if cfg.export:
        result["real"] = real_export(cfg)
        print(json.dumps(result["real"]), flush=True)
    for n in cfg.sizes:
        t0 = time.perf_counter()
        row = simulate(cfg, n)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)
        result["simulated"].append(row)
    return result
