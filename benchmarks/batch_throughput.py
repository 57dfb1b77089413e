"""`c4u batch` throughput, side by side: one process at 2 threads, `--engine local --workers 2 --threads 1`, and
`--engine ray --workers 2 --threads 1` (a local Ray the command starts and stops).

Each configuration runs as its own `c4u batch` process over the same groups of two (synthetic CreativePair rows),
in alternation, ``--rounds`` times, after one untimed warm-up run (file cache, first imports). Per run: the
command's wall seconds, the seconds until its first batch was written (start-up: imports, Ray, model loads), its
steady groups/s after that, each worker's groups/s over the time it spent on its groups, and the load average
around it. Reports medians per configuration, the ratios to one process, and Ray's overhead per group (steady
seconds per group against the local processes) and at start-up. The CPU's INT8 flags go with the figures. Prints
one JSON line last.

    flock /tmp/c4u-bench.lock python benchmarks/batch_throughput.py --export smol_export --groups 200 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {
    "one_process_2_threads": ["--engine", "local", "--workers", "1", "--threads", "2"],
    "local_2_workers_1_thread": ["--engine", "local", "--workers", "2", "--threads", "1"],
    "ray_2_workers_1_thread": ["--engine", "ray", "--workers", "2", "--threads", "1"],
}


def c4u() -> str:
    return str(Path(sys.executable).parent / "c4u")


def run_once(export: str, groups: Path, out: Path, flags: list[str], precision: str) -> dict:
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    done = subprocess.run([c4u(), "batch", "--export", export, "--groups", str(groups), "--out", str(out), "--backend", "cpu",
                           "--precision", precision, "--groups-per-batch", "2", *flags], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"c4u batch {' '.join(flags)} failed:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout)
    return {"wall_s": round(wall, 2), "job_s": summary["seconds"], "first_batch_s": summary["first_batch_s"],
            "steady_groups_per_s": summary["steady_groups_per_s"],
            "worker_groups_per_s": [w["groups_per_s"] for w in summary["workers"]], "done": summary["done"],
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}


def median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", required=True, help="an export with INT8 graphs (e.g. of the smolvlm-256m-shape preset)")
    ap.add_argument("--groups", type=int, default=200, help="groups of two per run")
    ap.add_argument("--rounds", type=int, default=3, help="timed runs per configuration, alternating")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names of CONFIGS")
    args = ap.parse_args()

    from creative4u_small.contract.cpu_info import cpu_info
    from creative4u_small.data.synth import synthesize

    work = Path(tempfile.mkdtemp(prefix="c4u-batch-bench-"))
    synthesize(args.groups, work / "data", seed=0)
    groups = work / "data" / "pairs.jsonl"
    names = args.configs.split(",")
    warm = work / "data" / "warm.jsonl"
    warm.write_text("".join(groups.read_text().splitlines(keepends=True)[:4]))
    run_once(args.export, warm, work / "warm.jsonl", CONFIGS[names[0]], args.precision)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in names:
            out = work / f"{name}-{r}.jsonl"
            runs[name].append(run_once(args.export, groups, out, CONFIGS[name], args.precision))
            print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    table = {n: {"wall_s": median(v, "wall_s"), "first_batch_s": median(v, "first_batch_s"),
                 "steady_groups_per_s": median(v, "steady_groups_per_s"),
                 "worker_groups_per_s": round(statistics.median(x for run in v for x in run["worker_groups_per_s"]), 3)}
             for n, v in runs.items()}
    report = {"groups": args.groups, "rounds": args.rounds, "precision": args.precision, "export": args.export,
              "cpu": cpu_info(), "table": table, "runs": runs}
    base = table.get("one_process_2_threads")
    if base:
        report["steady_vs_one_process"] = {n: round(t["steady_groups_per_s"] / base["steady_groups_per_s"], 3) for n, t in table.items()}
    local, ray = table.get("local_2_workers_1_thread"), table.get("ray_2_workers_1_thread")
    if local and ray:
        report["ray_overhead"] = {
            "steady_s_per_group": round(1 / ray["steady_groups_per_s"] - 1 / local["steady_groups_per_s"], 4),
            "start_up_s": round(ray["first_batch_s"] - local["first_batch_s"], 2),
            "wall_s_per_group": round((ray["wall_s"] - local["wall_s"]) / args.groups, 4)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
