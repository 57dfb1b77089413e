"""Timing helpers the benchmarks share: percentiles, peak memory, pairs per second, alternating order. Torch-free."""

from __future__ import annotations

import math
import platform
import resource
import time

import numpy as np


def noop_progress(stage: str, done: int, total: int) -> None:
    pass


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=float)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "p99": float(np.percentile(a, 99)),
            "mean": float(a.mean()), "n": int(a.size)}


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if platform.system() == "Darwin" else 2**10)


def timed_ms(fn) -> tuple[float, object]:
    """(milliseconds ``fn()`` took, what it returned)."""
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def rotation(labels: list, i: int) -> list:
    """``labels`` rotated by ``i``: the order of round ``i`` when configurations alternate, so none is always first."""
    k = i % len(labels)
    return labels[k:] + labels[:k]


def throughput(cfg, items, run_batch, label: str, progress=noop_progress) -> dict:
    """Pairs per second at each batch size: median of about ``cfg.runs`` pairs' worth of batches (``cfg``: anything
    with ``batch_sizes`` and ``runs``, as ``BenchConfig``).

    ``run_batch(batch)`` returns the seconds one batch took (set-up it excludes stays untimed).
    """
    out = {}
    for b in cfg.batch_sizes:
        reps = max(1, math.ceil(cfg.runs / b))
        times = []
        for rep in range(reps):
            progress(f"{label} batch {b}", rep, reps)
            times.append(run_batch([items[(rep * b + k) % len(items)] for k in range(b)]))
        median = float(np.median(times))
        out[str(b)] = {"pairs_per_s": b / median, "seconds_per_batch": median, "reps": reps}
    return out
