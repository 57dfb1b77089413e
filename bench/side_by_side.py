"""Backends side by side in one process: every timed call alternates between them, so both see the same load.

On a shared or throttling machine, backends measured one after the other meet different loads;
alternating call by call (the order rotating each round) leaves both the same. Per backend:
compare latency (both orders, new creatives every time: the embedding cache is cleared) with its
vision (per image) and judge (per compare) stage times, rank of a pool, and compare with an
explanation; verdicts of the same pairs are compared between backends. Ratios are the first
backend's median over each other's (> 1: the other is faster). Torch-free.
"""

from __future__ import annotations

import numpy as np

from creative4u_small.bench.bench_config import BenchConfig
from creative4u_small.bench.timing import noop_progress, percentiles, rotation, timed_ms
from creative4u_small.bench.workload import distinct_images
from creative4u_small.runtime.selector import Selector

NO_PREFIX = "/no-prefix"  # the label suffix of a selector that judges without prefix reuse


def selectors_for(cfg: BenchConfig, prefix_reuse: tuple[bool, ...] = (True,)) -> dict:
    """One Selector per backend of ``cfg`` at its first precision (and per prefix-reuse setting), labelled
    ``backend/precision`` (``/no-prefix`` without prefix reuse)."""
    precision = cfg.precisions[0]
    return {f"{b}/{precision}" + ("" if on else NO_PREFIX):
            Selector.load(cfg.export, backend=b, precision=precision, threads=cfg.threads, prefix_reuse=on,
                          max_new_tokens=max(cfg.generate_tokens, 1)) for b in cfg.backends for on in prefix_reuse}


def default_comparisons(labels: list[str]) -> list[tuple[str, str]]:
    """The first label against every other with prefix reuse; each ``/no-prefix`` label against its reusing twin."""
    out = [(labels[0], k) for k in labels[1:] if not k.endswith(NO_PREFIX)]
    return out + [(k, k[: -len(NO_PREFIX)]) for k in labels if k.endswith(NO_PREFIX)]


def _compares(selectors: dict, items, cfg: BenchConfig, progress) -> tuple[dict, dict]:
    """(per-backend lists of compare/vision/judge ms, per-backend p_a of the timed pairs)."""
    labels = list(selectors)
    ms = {k: {"compare": [], "vision_per_image": [], "judge": []} for k in labels}
    p_a = {k: [] for k in labels}
    for i in range(cfg.warmup + cfg.runs):
        progress("compare", i, cfg.warmup + cfg.runs)
        for k in rotation(labels, i):
            selectors[k].clear_cache()
            elapsed, r = timed_ms(lambda: selectors[k].compare(*items[i % len(items)]))
            if i < cfg.warmup:
                continue
            ms[k]["compare"].append(elapsed)
            ms[k]["vision_per_image"].append(r.timings_ms.get("vision", 0.0) / 2)
            ms[k]["judge"].append(r.timings_ms.get("judge", 0.0))
            p_a[k].append(r.p_a)
    return ms, p_a


def _ranks(selectors: dict, items, n: int, reps: int, progress) -> dict:
    """Seconds per rank of ``n`` images, alternating (the compares before it warmed the graphs up)."""
    labels, images = list(selectors), distinct_images(items)[:n]
    out = {k: [] for k in labels}
    for i in range(reps):
        progress(f"rank {n}", i, reps)
        for k in rotation(labels, i):
            selectors[k].clear_cache()
            elapsed, _ = timed_ms(lambda: selectors[k].rank(images, items[0][2], items[0][3]))
            out[k].append(elapsed / 1000)
    return out


def _explains(selectors: dict, items, cfg: BenchConfig, progress) -> dict:
    """Compare + explanation ms (``generate_tokens`` tokens each) and the decode alone, alternating."""
    labels = list(selectors)
    out = {k: {"compare_explain": [], "explain": []} for k in labels}
    for i in range(cfg.explain_runs + 1):
        progress("explain", i, cfg.explain_runs + 1)
        for k in rotation(labels, i):
            selectors[k].clear_cache()
            elapsed, r = timed_ms(lambda: selectors[k].compare(*items[i % len(items)], explain=True,
                                                               min_new_tokens=cfg.generate_tokens))
            if i:
                out[k]["compare_explain"].append(elapsed)
                out[k]["explain"].append(r.timings_ms.get("explain", 0.0))
    return out


def side_by_side(selectors: dict, items, cfg: BenchConfig, progress=noop_progress, rank_runs: int = 1,
                 comparisons: list[tuple[str, str]] | None = None) -> dict:
    """Figures per label and, for each (a, b) of ``comparisons`` (default: the first label against every other),
    a's medians over b's."""
    ms, p_a = _compares(selectors, items, cfg, progress)
    figures = {k: {name: percentiles(v) for name, v in ms[k].items()} | {"describe": selectors[k].describe()} for k in selectors}
    for n in cfg.rank_sizes:
        for k, seconds in _ranks(selectors, items, n, rank_runs, progress).items():
            figures[k].setdefault("rank_s", {})[str(n)] = percentiles(seconds)
    if cfg.explain_runs and cfg.generate_tokens and all("decoder_prefill" in s.graph_keys for s in selectors.values()):
        for k, lists in _explains(selectors, items, cfg, progress).items():
            figures[k].update({name: percentiles(v) for name, v in lists.items()})
    base, *others = list(selectors)
    ratios = {}
    for a, k in comparisons or [(base, k) for k in others]:
        r = {m: figures[a][m]["p50"] / figures[k][m]["p50"] for m in ("compare", "vision_per_image", "judge", "compare_explain",
                                                                       "explain") if m in figures[k] and figures[k][m]["p50"]}
        r.update({f"rank{n}": figures[a]["rank_s"][n]["p50"] / figures[k]["rank_s"][n]["p50"] for n in figures[k].get("rank_s", {})})
        ref, got = np.array(p_a[a]), np.array(p_a[k])
        r["verdicts_agreeing"] = f"{int(((ref >= 0.5) == (got >= 0.5)).sum())}/{ref.size}"
        r["max_abs_dp_a"] = float(np.abs(ref - got).max()) if ref.size else None
        ratios[f"{a} / {k}"] = r
    return {"backends": figures, "ratios": ratios}
