"""Compare latency of several engine configurations, each timed in a process of its own, the processes alternating.

Two ONNX Runtime sessions in one process contend for threads, so side-by-side figures taken in one process can
skew. Here every round starts one fresh process per configuration (in rotating order), which loads the export,
warms up and times ``--runs`` compares (both orders, new creatives each call: the embedding cache cleared); a
configuration's figure is the median over all its rounds' calls. Ratios are the first configuration's median
over each other's. Prints one JSON line last.

    python benchmarks/compare_processes.py --export EXPORT --config cpu:int8 --config openvino:int8 --rounds 4 --runs 5
    python benchmarks/compare_processes.py --export EXPORT --config openvino:int8 --config openvino:int8:no-prefix --rank 16
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def child(args) -> None:
    """One configuration in this process: ``--runs`` timed calls after ``--warmup``, as JSON on stdout."""
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.data.synth import synthesize
    from creative4u_small.runtime import Selector

    backend, precision, *flags = args.child.split(":")
    sel = Selector.load(args.export, backend=backend, precision=precision, threads=args.threads, prefix_reuse="no-prefix" not in flags)
    size = sel.manifest.preprocessing.image_size
    need = max(args.runs + args.warmup, args.rank)
    pairs = load_pairs(synthesize(need, args.workdir / "synth", seed=args.seed, image_size=size))
    items = [(p.image_a, p.image_b, p.query, p.title) for p in pairs]
    times = []
    for i in range(args.warmup + args.runs):
        sel.clear_cache()
        t0 = time.perf_counter()
        if args.rank:
            sel.rank([p.image_a for p in pairs[: args.rank]], items[0][2], items[0][3])
        else:
            sel.compare(*items[i % len(items)])
        if i >= args.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"ms": times, "backend": sel.backend, "precision": sel.precision, "prefix_reuse": sel.prefix_reuse}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--config", action="append", default=[], help="backend:precision[:no-prefix]; give two or more")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5, help="timed calls per process")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rank", type=int, default=0, help="time a rank of this many creatives instead of a compare")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/c4u_compare_processes"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if len(args.config) < 2:
        ap.error("give at least two --config")
    from creative4u_small.contract.cpu_info import cpu_info

    ms: dict[str, list[float]] = {c: [] for c in args.config}
    t0 = time.perf_counter()
    for r in range(args.rounds):
        for c in args.config[r % len(args.config):] + args.config[: r % len(args.config)]:
            argv = [sys.executable, __file__, "--export", str(args.export), "--child", c, "--runs", str(args.runs), "--warmup",
                    str(args.warmup), "--rank", str(args.rank), "--threads", str(args.threads), "--seed", str(args.seed),
                    "--workdir", str(args.workdir)]
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            ms[c] += json.loads(out)["ms"]
            print(f"  round {r + 1}/{args.rounds} {c}: {statistics.median(json.loads(out)['ms']):.1f} ms", flush=True)
    p50 = {c: statistics.median(v) for c, v in ms.items()}
    base = args.config[0]
    info = cpu_info()
    print(json.dumps({"bench": "compare_processes", "export": str(args.export), "what": f"rank {args.rank}" if args.rank else "compare",
                      "threads": args.threads, "rounds": args.rounds, "runs": args.runs, "p50_ms": {c: round(v, 2) for c, v in p50.items()},
                      "ratios": {f"{base} / {c}": round(p50[base] / p50[c], 3) for c in args.config[1:]},
                      "machine": {"cpu": info["model"], "int8_flags": info["int8_flags"], "u8s8_kernel": info["u8s8_kernel"]["name"]},
                      "wall_s": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
