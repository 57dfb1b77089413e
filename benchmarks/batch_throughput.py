"""`c4u batch` throughput, side by side: one process at 2 threads, `--engine local --workers 2 --threads 1`, and
`--engine ray --workers 2 --threads 1` (a local Ray the command starts and stops); and one worker at 1 thread in
this process against one Ray actor, where Ray's own cost per group shows without two workers to place.

Each configuration runs as its own `c4u batch` process over the same groups of two (synthetic CreativePair rows),
in alternation, ``--rounds`` times, after one untimed warm-up run (file cache, first imports). Per run: the
command's wall seconds, the seconds until its first batch was written (start-up: imports, Ray, model loads), its
steady groups/s after that, each worker's groups/s over the time it spent on its groups, and the load average
around it. Reports medians per configuration, the ratios to one process, and Ray's overhead per group (steady
seconds per group against the local processes) and at start-up. The CPU's INT8 flags go with the figures.

``--driver-items N`` measures what does not grow with a cluster: the driver. N groups go through Ray Data to 2
actors that answer at once (no model), and the driver writes every row as ``c4u batch`` does; and the writer
alone appends the same rows. Their rates are the ceiling of one driver, whatever the cluster. Prints one JSON
line last.

    flock /tmp/c4u-bench.lock python benchmarks/batch_throughput.py --export smol_export --groups 200 --rounds 3
    flock /tmp/c4u-bench.lock python benchmarks/batch_throughput.py --driver-items 20000 --configs ""
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
    # one worker each: Ray's cost per group with no say in where the OS puts two workers
    "one_process_1_thread": ["--engine", "local", "--workers", "1", "--threads", "1"],
    "ray_1_worker_1_thread": ["--engine", "ray", "--workers", "1", "--threads", "1"],
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


class Echo:
    """A worker with no model: answers each group at once (what a cluster looks like to a driver it cannot feed)."""

    def load(self) -> None:
        pass

    def work(self, items: list[dict]) -> list[dict]:
        return [{"id": g["id"], "kind": "row", "data": {"id": g["id"], "ranking": [1, 0], "scores": [0.1, -0.1], "winner": "A",
                                                          "p_a": 0.6}} for g in items]


def driver_ceiling(n: int, per_batch: int, work: Path) -> dict:
    """Groups/s one driver moves through Ray Data to answering actors and into the output file, and the writer's alone."""
    from creative4u_small.scale.job_tally import JobTally
    from creative4u_small.scale.ray_cluster import ray_session
    from creative4u_small.scale.ray_pool import PoolWorker, run_pool
    from creative4u_small.scale.row_writer import RowWriter

    echo = type("EchoWorker", (Echo, PoolWorker), {})
    groups = [{"id": f"g{i:07d}", "query": "trail running shoes", "title": "Men's trail shoe", "top_k": None,
               "images": [f"/data/img/{i:07d}_a.jpg", f"/data/img/{i:07d}_b.jpg"]} for i in range(n)]
    ids = {g["id"] for g in groups}
    rows = RowWriter(work / "driver.jsonl", ids, "bench")
    tally = JobTally(rows, None, n, "groups")
    t0 = time.perf_counter()
    with ray_session("", num_cpus=2):
        run_pool([(g["id"], g) for g in groups], echo, {}, tally.add, workers=2, cpus=0.5, items_per_batch=per_batch)
    summary = tally.summary(time.perf_counter() - t0, 0)
    alone = RowWriter(work / "writer.jsonl", ids, "bench")
    answers = Echo().work(groups)
    t1 = time.perf_counter()
    for i in range(0, n, per_batch):
        alone.write([a["data"] for a in answers[i: i + per_batch]])
    writer_s = time.perf_counter() - t1
    return {"items": n, "groups_per_batch": per_batch, "ray_steady_groups_per_s": summary["steady_groups_per_s"],
            "ray_first_batch_s": summary["first_batch_s"], "writer_groups_per_s": round(n / writer_s, 1)}


def median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 3)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="c4u-batch-bench-"))
    try:
        measure(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(work: Path) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", default="", help="an export with INT8 graphs (e.g. of the smolvlm-256m-shape preset)")
    ap.add_argument("--groups", type=int, default=200, help="groups of two per run")
    ap.add_argument("--rounds", type=int, default=3, help="timed runs per configuration, alternating")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names of CONFIGS (empty: none)")
    ap.add_argument("--driver-items", type=int, default=0, help="also measure the driver's ceiling with this many groups")
    ap.add_argument("--driver-batch", type=int, default=8, help="groups per batch for --driver-items")
    args = ap.parse_args()

    from creative4u_small.contract.cpu_info import cpu_info
    from creative4u_small.data.synth import synthesize

    report: dict = {"cpu": cpu_info()}
    if args.driver_items:
        report["driver"] = driver_ceiling(args.driver_items, args.driver_batch, work)
        print("driver", json.dumps(report["driver"]), file=sys.stderr, flush=True)
    names = [n for n in args.configs.split(",") if n]
    if not names:
        print(json.dumps(report))
        return
    synthesize(args.groups, work / "data", seed=0)
    groups = work / "data" / "pairs.jsonl"
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
    report.update({"groups": args.groups, "rounds": args.rounds, "precision": args.precision, "export": args.export,
                   "table": table, "runs": runs})
    base = table.get("one_process_2_threads")
    if base:
        report["steady_vs_one_process"] = {n: round(t["steady_groups_per_s"] / base["steady_groups_per_s"], 3) for n, t in table.items()}
    for workers in ("1_worker", "2_workers"):
        local = table.get("one_process_1_thread" if workers == "1_worker" else "local_2_workers_1_thread")
        ray = table.get(f"ray_{workers}_1_thread")
        if local and ray:
            report[f"ray_overhead_{workers}"] = {
                "worker_s_per_group": round(1 / ray["worker_groups_per_s"] - 1 / local["worker_groups_per_s"], 4),
                "steady_s_per_group": round(1 / ray["steady_groups_per_s"] - 1 / local["steady_groups_per_s"], 4),
                "start_up_s": round(ray["first_batch_s"] - local["first_batch_s"], 2),
                "wall_s_per_group": round((ray["wall_s"] - local["wall_s"]) / args.groups, 4)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
