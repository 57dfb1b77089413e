"""A compare timed on every CPU engine and precision the export holds, at export, for ``backend=auto``.

Which engine is faster depends on the model: OpenVINO INT8 gains on a 256M-parameter student and loses to
ONNX Runtime on a 2M-parameter one, whose calls are too short for INT8 to pay its overhead. The runtime's
``auto`` ranks the CPU engines by these medians (after the accuracy gates), so the manifest records them with
the machine and thread count they were taken on.
"""

from __future__ import annotations

import statistics
import time

from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.export.export_run import ExportRun
from creative4u_small.export.runtime_check import shared_selector
from creative4u_small.runtime import engines
from creative4u_small.runtime import manifest as mf

WARMUP = 1


def time_compares(run: ExportRun, manifest: mf.Manifest) -> dict:
    """Median ms of one compare (both orders, two new creatives, the embedding cache cleared) per CPU path,
    the paths alternating call by call so that a change in machine load hits all of them alike."""
    cfg = run.cfg
    if not cfg.timing_runs:
        return {"skipped": "timing_runs is 0"}
    paths = {k: path for k, path in engines.cpu_paths().items() if k in run.parity}
    selectors = {k: shared_selector(run, manifest, backend, precision) for k, (backend, precision) in paths.items()}
    items = run.held_items
    times: dict[str, list[float]] = {k: [] for k in paths}
    for i in range(WARMUP + cfg.timing_runs):
        run.progress("timing the engines", i, WARMUP + cfg.timing_runs)
        a, b, query, title = items[i % len(items)]
        for key, selector in selectors.items():
            selector.clear_cache()
            t0 = time.perf_counter()
            selector.compare(a, b, query, title)
            if i >= WARMUP:
                times[key].append(time.perf_counter() - t0)
    machine = cpu_info()
    return {"compare_ms": {k: round(1000 * statistics.median(v), 3) for k, v in times.items()},
            "runs": cfg.timing_runs, "threads": cfg.threads or "library default",
            "machine": {"model": machine.get("model"), "u8s8_kernel": machine.get("u8s8_kernel", {}).get("name")},
            "method": "one process, the paths alternating call by call, new creatives each call (embedding cache cleared)"}
