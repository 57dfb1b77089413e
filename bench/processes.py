"""Engine configurations compared each in a process of its own, the processes alternating (`compare_processes.py`).

Two ONNX Runtime sessions in one process contend for threads, so side-by-side figures taken in one process can
skew. Here every round starts one fresh process per configuration (in rotating order), which loads the export,
warms up and times ``runs`` compares (both orders, new creatives each call: the embedding cache cleared), or ranks
of ``rank`` creatives; a configuration's figure is the median over all its rounds' calls. Ratios are the first
configuration's median over each other's.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from creative4u_small.bench.machine import machine_summary
from creative4u_small.bench.timing import rotation, timed_ms
from creative4u_small.bench.workload import synthetic_items
from creative4u_small.contract.settings import setting
from creative4u_small.runtime import Selector


@dataclass(frozen=True)
class CompareProcessesConfig:
    FLAGS = {"configs": "--config"}
    REPEATED = ("configs",)
    export: Path = setting(help="Export folder every configuration loads.")
    configs: tuple[str, ...] = setting((), "A configuration, backend:precision[:no-prefix] (no-prefix: prefix reuse off); give two or more.")
    rounds: int = setting(3, "Rounds; each starts one process per configuration, in rotating order.")
    runs: int = setting(5, "Timed calls per process.")
    warmup: int = setting(1, "Untimed calls per process before the timed ones.")
    rank: int = setting(0, "Time a rank of this many creatives instead of a compare.")
    threads: int = setting(2, "ONNX Runtime / OpenVINO threads of every configuration.")
    seed: int = setting(0, "Seed of the synthetic creatives.")
    workdir: Path = setting(Path("/tmp/c4u_compare_processes"), "Folder for the synthetic creatives.")

    def __post_init__(self):
        if len(self.configs) < 2:
            raise ValueError("give at least two --config (backend:precision[:no-prefix])")
        for c in self.configs:
            if len(c.split(":")) not in (2, 3) or c.count(":") == 2 and not c.endswith(":no-prefix"):
                raise ValueError(f"--config {c!r} is not backend:precision[:no-prefix]")


def one_process(cfg: CompareProcessesConfig, config: str) -> dict:
    """One configuration in this process: the milliseconds of ``cfg.runs`` timed calls after ``cfg.warmup``."""
    backend, precision, *flags = config.split(":")
    sel = Selector.load(cfg.export, backend=backend, precision=precision, threads=cfg.threads, prefix_reuse="no-prefix" not in flags)
    items = synthetic_items(max(cfg.runs + cfg.warmup, cfg.rank), cfg.workdir / "synth", cfg.seed, sel.manifest.preprocessing.image_size)
    times = []
    for i in range(cfg.warmup + cfg.runs):
        sel.clear_cache()
        if cfg.rank:
            ms, _ = timed_ms(lambda: sel.rank([item[0] for item in items[: cfg.rank]], items[0][2], items[0][3]))
        else:
            ms, _ = timed_ms(lambda: sel.compare(*items[i % len(items)]))
        if i >= cfg.warmup:
            times.append(ms)
    return {"ms": times, "backend": sel.backend, "precision": sel.precision, "prefix_reuse": sel.prefix_reuse}


def compare_processes(cfg: CompareProcessesConfig) -> dict:
    """Every round, each configuration in a fresh process (this module run as a program); medians and ratios."""
    ms: dict[str, list[float]] = {c: [] for c in cfg.configs}
    settings = json.dumps(asdict(cfg), default=str)
    t0 = time.perf_counter()
    for r in range(cfg.rounds):
        for c in rotation(list(cfg.configs), r):
            out = subprocess.run([sys.executable, "-m", __name__, settings, c], capture_output=True, text=True, check=True)
            got = json.loads(out.stdout.strip().splitlines()[-1])["ms"]
            ms[c] += got
            print(f"  round {r + 1}/{cfg.rounds} {c}: {statistics.median(got):.1f} ms", flush=True)
    p50 = {c: statistics.median(v) for c, v in ms.items()}
    base = cfg.configs[0]
    return {"bench": "compare_processes", "export": str(cfg.export), "what": f"rank {cfg.rank}" if cfg.rank else "compare",
            "threads": cfg.threads, "rounds": cfg.rounds, "runs": cfg.runs, "p50_ms": {c: round(v, 2) for c, v in p50.items()},
            "ratios": {f"{base} / {c}": round(p50[base] / p50[c], 3) for c in cfg.configs[1:]},
            "machine": machine_summary("cpu", "int8_flags", "u8s8_kernel"), "wall_s": round(time.perf_counter() - t0, 1)}


if __name__ == "__main__":  # one configuration's process: python -m creative4u_small.bench.processes SETTINGS_JSON CONFIG
    raw = json.loads(sys.argv[1])
    cfg = CompareProcessesConfig(**{**raw, "export": Path(raw["export"]), "workdir": Path(raw["workdir"]), "configs": tuple(raw["configs"])})
    print(json.dumps(one_process(cfg, sys.argv[2])))
