"""What N one-thread lanes can gain over one compare on N threads, on this CPU (the `c4u serve --lanes` ceiling).

Serial in-process compares (both orders, fresh creatives each time) alternate between a Selector on one
intra-op thread and one on ``--threads``; the medians give the ceiling of ``--threads`` one-thread lanes
against serial calls on ``--threads`` threads: t_wide / (t_one / threads). It ignores what lanes running at
once cost each other (memory bandwidth, caches), so a server can only come in below it.

    python benchmarks/lane_ceiling.py --export EXPORT --precision int8 --threads 2 --pairs 12
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--threads", type=int, default=2, help="cores to share: threads of the wide Selector and lanes of the narrow one")
    ap.add_argument("--pairs", type=int, default=12, help="timed compares per Selector (after 2 warm-ups each)")
    ap.add_argument("--image-px", type=int, default=512)
    args = ap.parse_args()

    from PIL import Image

    from creative4u_small.runtime import Selector, SelectorConfig
    from creative4u_small.runtime.bench import machine_info

    sels = {t: Selector.load(args.export, backend="cpu", config=SelectorConfig(precision=args.precision, threads=t))
            for t in (1, args.threads)}
    rng = random.Random(5)

    def creative():
        return Image.new("RGB", (args.image_px, args.image_px), tuple(rng.randrange(256) for _ in range(3)))

    ms: dict[int, list[float]] = {t: [] for t in sels}
    for i in range(args.pairs + 2):
        for t in (sorted(sels) if i % 2 == 0 else sorted(sels, reverse=True)):
            a, b = creative(), creative()
            t0 = time.perf_counter()
            sels[t].compare(a, b, "trail running shoes", "")
            if i >= 2:
                ms[t].append((time.perf_counter() - t0) * 1000)
    one, wide = statistics.median(ms[1]), statistics.median(ms[args.threads])
    machine = machine_info()
    print(json.dumps({"bench": "lane_ceiling", "export": str(args.export), "precision": args.precision, "threads": args.threads,
                      "pairs": args.pairs, "cpu": machine["cpu"], "cores": machine["cores"], "int8_flags": machine["int8"]["flags"],
                      "one_thread_ms": round(one, 1), "wide_ms": round(wide, 1), "thread_speedup": round(one / wide, 3),
                      "lanes_ceiling_vs_serial": round(wide / (one / args.threads), 3)}))


if __name__ == "__main__":
    main()
