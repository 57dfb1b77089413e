"""INT8 against fp32 through the runtime on this CPU, and what the load-time parity probe costs (`int8_drift.py`)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.bench.workload import items_of
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.contract.settings import setting
from creative4u_small.runtime import engines
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.selector import Selector


@dataclass(frozen=True)
class Int8DriftConfig:
    export: Path = setting(help="Export folder with INT8 graphs (c4u export --int8).")
    pairs: Path | None = setting(None, "CreativePair JSONL to compare; without it only the probe cost is measured.")
    limit: int = setting(0, "First N pairs only (0 = all).")
    load_runs: int = setting(5, "Selector.load calls per variant for the probe cost (0: skip it).")
    backend: str = setting("cpu", "cpu (ONNX Runtime's dynamic INT8 graphs) or openvino (the NNCF INT8 IR).")
    threads: int = setting(0, "Intra-op threads (0: the engine's default).")
    batch_size: int = setting(16, "Pairs per judge call.")
    margin: float = setting(0.05, "Decisive: fp32 |p_a - 0.5| >= margin.")


def drift(cfg: Int8DriftConfig, items: list) -> dict:
    """|delta p_a| and verdict agreement of INT8 against fp32 over ``items``, and the INT8 probe's figures."""
    runs = {}
    for precision in ("fp32", "int8"):
        sel = Selector.load(cfg.export, backend=cfg.backend, precision=precision, threads=cfg.threads, batch_size=cfg.batch_size)
        runs[precision] = (np.array([r.p_a for r in sel.compare_many(items)]), sel.describe()["probe"])
    ref, got = runs["fp32"][0], runs["int8"][0]
    decisive = np.abs(ref - 0.5) >= cfg.margin
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


def probe_cost(cfg: Int8DriftConfig) -> dict:
    """Median Selector.load seconds with and without the probe, alternating, per precision."""
    out = {}
    for precision in ("fp32", "int8"):
        times: dict[bool, list[float]] = {True: [], False: []}
        Selector.load(cfg.export, backend=cfg.backend, precision=precision, threads=cfg.threads, verify_hashes=False)  # warm-up
        for _ in range(cfg.load_runs):
            for probe in (False, True):
                t0 = time.perf_counter()
                Selector.load(cfg.export, backend=cfg.backend, precision=precision, threads=cfg.threads, verify_hashes=False, probe=probe)
                times[probe].append(time.perf_counter() - t0)
        with_probe, without = statistics.median(times[True]), statistics.median(times[False])
        out[precision] = {"load_s_with_probe": round(with_probe, 4), "load_s_without_probe": round(without, 4),
                          "probe_s": round(with_probe - without, 4), "runs": cfg.load_runs}
    return out


def int8_drift(cfg: Int8DriftConfig) -> dict:
    """The export's INT8 settings and floors, this machine (and the CPU OpenVINO sees), drift and probe cost."""
    m = mf.read_manifest(cfg.export)
    judge_int8 = engines.engine(cfg.backend).graph_key(m, mf.JUDGE, "int8")
    result = {"export": str(cfg.export), "backend": cfg.backend, "machine": cpu_info(), "export_machine": m.machine,
              "int8_settings": m.graphs[judge_int8].quantization, "probe_floors": m.probe["floors"]}
    result["engine"] = engines.engine(cfg.backend).describe(m)  # OpenVINO's: the CPU it sees (under qemu: the emulated one)
    t0 = time.perf_counter()
    if cfg.pairs:
        pairs = load_pairs(cfg.pairs)
        result["drift"] = drift(cfg, items_of(pairs[: cfg.limit] if cfg.limit else pairs))
    if cfg.load_runs:
        result["probe_cost"] = probe_cost(cfg)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    return result
