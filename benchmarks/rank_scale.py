"""Ranking at scale: the tournament schedule against a full round robin.

Part 1 (always): on the simulated noisy judge (``benchmarks/simulated_judge.py``), for each pool size
and seed, the same judge ranks the pool twice — ``tournament.run`` (round robin for small pools,
Swiss rounds plus a leaders' round robin for large ones) and a full round robin — and top-1 and
top-5 recovery of the hidden order are averaged over seeds, with the paired difference's standard
error. Comparisons and judge calls per rank are reported against N·log2 N and N(N-1)/2.

Part 2 (with ``--export``): a real export ranks ``--images`` generated images side by side with
comparing every pair through the same ``Selector`` (same graphs, same embeddings cache cleared
before each), timed in one run. The CPU model and its vector/INT8 flags go with the figures.
Prints one JSON line last.

    python benchmarks/rank_scale.py --sizes 64,256 --seeds 300
    python benchmarks/rank_scale.py --sizes 64 --seeds 50 --export exports/student --images 64
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time


def simulate(n: int, seeds: int, top_k: int, quality_sd: float, noise_sd: float, budget_factor: float = 1.0) -> dict:
    import numpy as np
    from simulated_judge import SimulatedJudge, SimulatedJudgeConfig, recovery

    from creative4u_small.runtime import tournament

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


def real_export(export: str, images: int, runs: int, precision: str, threads: int, top_k: int, work: str) -> dict:
    """Rank ``images`` synthetic creatives with the schedule and with every pair, interleaved, ``runs`` times."""
    from dataclasses import replace
    from pathlib import Path

    from creative4u_small.data.synth.generate import synthesize
    from creative4u_small.runtime.selector import Selector

    folder = Path(work)
    if not (folder / "img").is_dir() or len(list((folder / "img").iterdir())) < images:
        synthesize((images + 1) // 2, folder, seed=0)
    pool = sorted((folder / "img").iterdir())[:images]
    sel = Selector.load(export, backend="cpu", precision=precision, threads=threads)
    schedule_cfg, every_cfg = sel.config, replace(sel.config, round_robin_max=images)
    sel.rank(pool[:4], "trail running shoes", "Trail shoe")  # warm-up: sessions and allocators
    times: dict[str, list[float]] = {"schedule": [], "every_pair": []}
    results = {}
    for _ in range(runs):
        for name, cfg in (("schedule", schedule_cfg), ("every_pair", every_cfg)):
            sel.config = cfg
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="64,256", help="pool sizes for the simulated judge")
    ap.add_argument("--seeds", type=int, default=200, help="pools (judges) per size")
    ap.add_argument("--top-k", type=int, default=5, help="top_k asked of the rank")
    ap.add_argument("--quality-sd", type=float, default=1.0)
    ap.add_argument("--noise-sd", type=float, default=1.0)
    ap.add_argument("--budget-factor", type=float, default=1.0, help="schedule budget as a multiple of the default (tournament.budget_for)")
    ap.add_argument("--export", help="export folder: also time a real rank against every pair")
    ap.add_argument("--images", type=int, default=64, help="pool size for the real rank")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per variant (interleaved; medians reported)")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "int8"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--work", default="rank_scale_images", help="folder for the generated creatives")
    args = ap.parse_args()

    from creative4u_small.contract.cpu_info import cpu_info

    result = {"machine": cpu_info(), "simulated": []}
    if args.export:
        result["real"] = real_export(args.export, args.images, args.runs, args.precision, args.threads, args.top_k, args.work)
        print(json.dumps(result["real"]), flush=True)
    for n in (int(x) for x in args.sizes.split(",") if x):
        t0 = time.perf_counter()
        row = simulate(n, args.seeds, args.top_k, args.quality_sd, args.noise_sd, args.budget_factor)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)
        result["simulated"].append(row)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
