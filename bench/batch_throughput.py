"""`c4u batch` throughput side by side, and one driver's ceiling (`batch_throughput.py`)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.bench.script_args import require_subset
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.settings import setting
from creative4u_small.data.synth import synthesize

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


@dataclass(frozen=True)
class BatchThroughputConfig:
    export: str = setting("", "An export with INT8 graphs (e.g. of the smolvlm-256m-shape preset).")
    groups: int = setting(200, "Groups of two per run.")
    rounds: int = setting(3, "Timed runs per configuration, alternating.")
    precision: str = setting("int8", "Precision every configuration runs.")
    configs: tuple[str, ...] = setting(tuple(CONFIGS), f"Configurations to run, of {', '.join(CONFIGS)} (empty: none).")
    driver_items: int = setting(0, "Also measure the driver's ceiling with this many groups.")
    driver_batch: int = setting(8, "Groups per batch for --driver-items.")

    def __post_init__(self):
        require_subset("configs", self.configs, CONFIGS)


def batch_throughput(cfg: BatchThroughputConfig) -> dict:
    """The report: the driver's ceiling (with ``driver_items``), each configuration's medians, ratios and Ray's overhead."""
    work = Path(tempfile.mkdtemp(prefix="c4u-batch-bench-"))
    try:
        return _measure(cfg, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(cfg: BatchThroughputConfig, work: Path) -> dict:
    report: dict = {"cpu": cpu_info()}
    if cfg.driver_items:
        report["driver"] = driver_ceiling(cfg.driver_items, cfg.driver_batch, work)
        print("driver", json.dumps(report["driver"]), file=sys.stderr, flush=True)
    if not cfg.configs:
        return report
    synthesize(cfg.groups, work / "data", seed=0)
    groups = work / "data" / "pairs.jsonl"
    warm = work / "data" / "warm.jsonl"
    warm.write_text("".join(groups.read_text().splitlines(keepends=True)[:4]))
    run_once(cfg.export, warm, work / "warm.jsonl", CONFIGS[cfg.configs[0]], cfg.precision)
    runs: dict[str, list[dict]] = {n: [] for n in cfg.configs}
    for r in range(cfg.rounds):
        for name in cfg.configs:
            runs[name].append(run_once(cfg.export, groups, work / f"{name}-{r}.jsonl", CONFIGS[name], cfg.precision))
            print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    table = {n: {"wall_s": median(v, "wall_s"), "first_batch_s": median(v, "first_batch_s"),
                 "steady_groups_per_s": median(v, "steady_groups_per_s"),
                 "worker_groups_per_s": round(statistics.median(x for run in v for x in run["worker_groups_per_s"]), 3)}
             for n, v in runs.items()}
    report.update({"groups": cfg.groups, "rounds": cfg.rounds, "precision": cfg.precision, "export": cfg.export,
                   "table": table, "runs": runs})
    return report | overheads(table, cfg.groups)


def overheads(table: dict, groups: int) -> dict:
    """Each configuration against one process, and Ray's cost per group against local processes of as many workers."""
    out = {}
    base = table.get("one_process_2_threads")
    if base:
        out["steady_vs_one_process"] = {n: round(t["steady_groups_per_s"] / base["steady_groups_per_s"], 3) for n, t in table.items()}
    for workers in ("1_worker", "2_workers"):
        local = table.get("one_process_1_thread" if workers == "1_worker" else "local_2_workers_1_thread")
        ray = table.get(f"ray_{workers}_1_thread")
        if local and ray:
            out[f"ray_overhead_{workers}"] = {
                "worker_s_per_group": round(1 / ray["worker_groups_per_s"] - 1 / local["worker_groups_per_s"], 4),
                "steady_s_per_group": round(1 / ray["steady_groups_per_s"] - 1 / local["steady_groups_per_s"], 4),
                "start_up_s": round(ray["first_batch_s"] - local["first_batch_s"], 2),
                "wall_s_per_group": round((ray["wall_s"] - local["wall_s"]) / groups, 4)}
    return out


