"""Fused against unfused graphs of one model, alternating, and this CPU's limit for the same work (`fused_vs_unfused.py`).

The limit counts the weight GEMMs at the INT8 rate and the attention products (activation x activation, which ONNX
Runtime runs in fp32) at the fp32 rate, both measured here (``kernel_profile.gemm_rates``).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.bench.kernel_profile import compare_feeds, gemm_rates, profile_ops, rates_against, work
from creative4u_small.bench.machine import machine_summary
from creative4u_small.bench.workload import synthetic_items
from creative4u_small.contract.settings import setting
from creative4u_small.runtime.selector import Selector

STAGES = ("vision", "judge", "preprocess")


@dataclass(frozen=True)
class FusedVsUnfusedConfig:
    base: Path = setting(help="Export of the graphs as exported (c4u export --no-fuse).")
    new: Path = setting(help="Export with the fused graphs (c4u export).")
    model: Path = setting(help="The model both were exported from (for the work estimate).")
    precision: str = setting("int8", "Precision of both exports' graphs.")
    runs: int = setting(10, "Timed compares per export (alternating).")
    warmup: int = setting(2, "Untimed compares per export first.")
    threads: int = setting(0, "ONNX Runtime intra-op threads (0: its default).")
    image_size: int = setting(512, "Side of the synthetic creatives.")
    profile: bool = setting(False, "Also time the new export's graphs node by node, by kind.")


def alternate(sels: dict, items: list, warmup: int) -> tuple[dict, int, list]:
    """Every item compared by both selectors, their order swapped every item; (per-stage medians per selector,
    verdicts agreeing, |dp_a| per item)."""
    figures = {name: {"compare": [], "vision": [], "judge": [], "preprocess": []} for name in sels}
    agree, dp = 0, []
    for i, item in enumerate(items):
        results = {}
        for name, sel in (sels.items() if i % 2 == 0 else reversed(list(sels.items()))):
            sel.clear_cache()
            t0 = time.perf_counter()
            results[name] = r = sel.compare(*item)
            if i >= warmup:
                figures[name]["compare"].append((time.perf_counter() - t0) * 1000)
                for k in STAGES:
                    figures[name][k].append(r.timings_ms.get(k, 0.0) / (2 if k == "vision" else 1))
        agree += results["base"].winner == results["new"].winner
        dp.append(abs(results["base"].p_a - results["new"].p_a))
    return {name: {k: float(np.median(v)) for k, v in f.items()} for name, f in figures.items()}, agree, dp


def fused_vs_unfused(cfg: FusedVsUnfusedConfig) -> dict:
    """Both exports alternating, the limit from measured GEMM rates, and (``profile``) the new graphs' kernel time."""
    sels = {name: Selector.load(d, backend="cpu", precision=cfg.precision, threads=cfg.threads) for name, d in (("base", cfg.base), ("new", cfg.new))}
    with tempfile.TemporaryDirectory() as tmp:
        items = synthetic_items(cfg.runs + cfg.warmup, Path(tmp) / "pairs", 3, cfg.image_size)
        med, agree, dp = alternate(sels, items, cfg.warmup)
        feeds = compare_feeds(sels["new"], items[0]) if cfg.profile else None
    judge_len = len(sels["new"].tokenizer.judge_ids(items[0][2], items[0][3]))
    rates = gemm_rates(cfg.threads)
    w = work(cfg.model, judge_len)
    limit = {"vision_ms_per_image": 1000 * (w["vision_int8_gop"] / rates["int8_gops"] + w["vision_fp32_gop"] / rates["fp32_gops"]),
             "judge_ms_per_compare": 1000 * (w["judge_int8_gop"] / rates["int8_gops"] + w["judge_fp32_gop"] / rates["fp32_gops"])}
    line = {
        "bench": "fused_vs_unfused", "precision": cfg.precision, "runs": cfg.runs, "image_size": cfg.image_size, **machine_summary(),
        "median_ms": med, "compare_speedup": med["base"]["compare"] / med["new"]["compare"],
        "vision_speedup": med["base"]["vision"] / med["new"]["vision"], "judge_speedup": med["base"]["judge"] / med["new"]["judge"],
        "verdicts_agreeing": f"{agree}/{len(items)}", "max_dp_a_base_vs_new": float(max(dp)),
        "gemm_gops": rates, "work_gop": w, "judge_tokens": judge_len, "limit_ms": limit,
        "new_vs_limit": {"vision": med["new"]["vision"] / limit["vision_ms_per_image"], "judge": med["new"]["judge"] / limit["judge_ms_per_compare"]},
        "target_compare_speedup": 1.3,
    }
    line["met"] = line["compare_speedup"] >= line["target_compare_speedup"]
    if cfg.profile:
        new = sels["new"]
        prof = {g: profile_ops(new.export_dir / new.manifest.graphs[new.graph_keys[g]].file, feeds[g], cfg.threads, cfg.runs)
                for g in ("vision", "judge")}
        rates_against(prof, w)  # vision: one image; judge: one compare's two rows, as in work()
        line["profile"] = prof
    return line
