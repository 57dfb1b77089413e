"""INT8 against fp32 through the runtime on this CPU, and what the load-time parity probe costs.

For an export with INT8 graphs: every pair of ``--pairs`` compared by ``Selector`` in fp32 and in
INT8 (same backend, same preprocessing; ``--backend openvino`` compares the OpenVINO IR), then max,
p99 and mean |delta p_a|, verdict agreement over all pairs and over decisive ones, and the INT8
probe's figures on this machine. The probe's cost is
the median of ``--load-runs`` ``Selector.load`` calls with the probe minus the median without it,
side by side in one run. The CPU model, its INT8 flags and the kernel they select are recorded
with every figure (with ``--backend openvino`` also the CPU OpenVINO sees: under qemu, /proc/cpuinfo is
the host's while CPUID is the emulated CPU's). Prints one JSON line last.

    python benchmarks/int8_drift.py --export quickstart_out/export --pairs quickstart_out/data/heldout.jsonl
    ../shared/tools/on-avx2 python benchmarks/int8_drift.py --backend openvino --export EXPORT --pairs PAIRS --load-runs 0
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def drift(export: Path, items: list, threads: int, batch_size: int, margin: float, backend: str = "cpu") -> dict:
    import numpy as np

    from creative4u_small.runtime.selector import Selector

    runs = {}
    for precision in ("fp32", "int8"):
        sel = Selector.load(export, backend=backend, precision=precision, threads=threads, batch_size=batch_size)
        runs[precision] = (np.array([r.p_a for r in sel.compare_many(items)]), sel.describe()["probe"])
    ref, got = runs["fp32"][0], runs["int8"][0]
    decisive = np.abs(ref - 0.5) >= margin
    agree = (ref >= 0.5) == (got >= 0.5)
    return {
        "pairs": int(ref.size),
        "max_abs_dp_a": float(np.abs(got - ref).max()),
        "p99_abs_dp_a": float(np.percentile(np.abs(got - ref), 99)),
        "mean_abs_dp_a": float(np.abs(got - ref).mean()),
        "agreement_all": float(agree.mean()),
        "decisive": int(decisive.sum()),
        "agreement_decisive": float(agree[decisive].mean()) if decisive.any() else None,
        "int8_probe": runs["int8"][1],
    }


def probe_cost(export: Path, threads: int, runs: int, backend: str = "cpu") -> dict:
    """Median Selector.load seconds with and without the probe, alternating, per precision."""
    from creative4u_small.runtime.selector import Selector

    out = {}
    for precision in ("fp32", "int8"):
        times: dict[bool, list[float]] = {True: [], False: []}
        Selector.load(export, backend=backend, precision=precision, threads=threads, verify_hashes=False)  # warm-up
        for _ in range(runs):
            for probe in (False, True):
                t0 = time.perf_counter()
                Selector.load(export, backend=backend, precision=precision, threads=threads, verify_hashes=False, probe=probe)
                times[probe].append(time.perf_counter() - t0)
        with_probe, without = statistics.median(times[True]), statistics.median(times[False])
        out[precision] = {"load_s_with_probe": round(with_probe, 4), "load_s_without_probe": round(without, 4),
                          "probe_s": round(with_probe - without, 4), "runs": runs}
    return out


def main() -> None:
    from creative4u_small.contract.cpu_info import cpu_info
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.runtime import engines
    from creative4u_small.runtime import manifest as mf

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True, help="export folder with INT8 graphs (c4u export --int8)")
    ap.add_argument("--pairs", type=Path, help="CreativePair JSONL to compare; without it only the probe cost is measured")
    ap.add_argument("--limit", type=int, default=0, help="first N pairs only (0 = all)")
    ap.add_argument("--load-runs", type=int, default=5, help="Selector.load calls per variant for the probe cost (0: skip it)")
    ap.add_argument("--backend", default="cpu", help="cpu (ONNX Runtime's dynamic INT8 graphs) or openvino (the NNCF INT8 IR)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--margin", type=float, default=0.05, help="decisive: fp32 |p_a - 0.5| >= margin")
    args = ap.parse_args()

    m = mf.read_manifest(args.export)
    judge_int8 = engines.engine(args.backend).graph_key(m, mf.JUDGE, "int8")
    result = {"export": str(args.export), "backend": args.backend, "machine": cpu_info(), "export_machine": m.machine,
              "int8_settings": m.graphs[judge_int8].quantization, "probe_floors": m.probe["floors"]}
    if args.backend == "openvino":
        from creative4u_small.runtime.engines import openvino_engine

        core = openvino_engine.core()
        result["openvino_cpu"] = {"name": core.get_property("CPU", "FULL_DEVICE_NAME"),
                                  "capabilities": list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))}
    t0 = time.perf_counter()
    if args.pairs:
        pairs = load_pairs(args.pairs)
        pairs = pairs[: args.limit] if args.limit else pairs
        result["drift"] = drift(args.export, [(p.image_a, p.image_b, p.query, p.title) for p in pairs], args.threads,
                                args.batch_size, args.margin, args.backend)
    if args.load_runs:
        result["probe_cost"] = probe_cost(args.export, args.threads, args.load_runs, args.backend)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
