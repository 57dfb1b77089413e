"""`c4u serve` under load (`serve_load.py`): HTTP against in-process, batching on against off, bad input, kill -9.

Bounded loopback traffic from an httpx driver (``creative4u_small.serve.client``), every phase capped in
requests and seconds; each timed request carries a pair of creatives never sent before, so the embedding cache
does not flatter the figures.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.bench.script_args import settings_dict
from creative4u_small.bench.serve_harness import Pairs, Server, make_images, stats
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.settings import setting
from creative4u_small.serve.client import SelectorClient, ServeError

QUERY = "trail running shoes"


def load(url: str, pairs: list[tuple[bytes, bytes]], concurrency: int, deadline_s: float) -> tuple[dict, list]:
    """Send ``pairs`` with ``concurrency`` client threads (one connection pool each); stops at ``deadline_s``."""
    latencies, answers, failed = [], [], {}
    lock = threading.Lock()
    t_end = time.perf_counter() + deadline_s

    def worker(k: int):
        with SelectorClient(url, timeout=120) as c:
            for i in range(k, len(pairs), concurrency):
                if time.perf_counter() > t_end:
                    return
                t0 = time.perf_counter()
                try:
                    r = c.compare(pairs[i][0], pairs[i][1], QUERY, "")
                except Exception as e:  # every failure counts, by HTTP status or exception type
                    kind = str(e.status) if isinstance(e, ServeError) else type(e).__name__
                    with lock:
                        failed[kind] = failed.get(kind, 0) + 1
                    continue
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    answers.append((i, r))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    return stats(latencies, time.perf_counter() - t0, failed), answers


def in_process(cfg: ServeLoadConfig, fresh: Pairs, pool: list) -> tuple[dict, dict]:
    """Serial in-process figures, and the reference p_a of every pool pair."""
    import psutil

    from creative4u_small.runtime import Selector, SelectorConfig

    sel = Selector.load(cfg.export, backend="cpu", config=SelectorConfig(precision=cfg.precision, threads=cfg.threads))
    sel.compare(*fresh.take(1)[0], QUERY, "")
    me = psutil.Process()
    cpu0, lat, t0 = sum(me.cpu_times()[:2]), [], time.perf_counter()
    for a, b in fresh.take(cfg.requests):
        t1 = time.perf_counter()
        sel.compare(a, b, QUERY, "")
        lat.append(time.perf_counter() - t1)
    figures = stats(lat, time.perf_counter() - t0, {})
    figures["cpu_ms_per_request"] = round((sum(me.cpu_times()[:2]) - cpu0) / cfg.requests * 1000, 3)
    return figures, {i: sel.compare(a, b, QUERY, "").p_a for i, (a, b) in enumerate(pool)}


def server_flags(cfg: ServeLoadConfig, max_batch: int) -> list:
    return ["--precision", cfg.precision, "--threads", cfg.server_threads if cfg.server_threads is not None else cfg.threads,
            "--workers", cfg.workers, "--max-batch", max_batch, "--max-wait-ms", cfg.max_wait_ms, "--max-queue", 256]


def levels_phase(cfg: ServeLoadConfig, server: Server, fresh: Pairs, levels: list[int]) -> dict:
    load(server.url, fresh.take(8 * cfg.workers), 8, cfg.phase_seconds)  # warm-up: connections, every worker
    out = {}
    for conc in levels:
        cpu0 = server.cpu_seconds()
        figures, _ = load(server.url, fresh.take(cfg.requests), conc, cfg.phase_seconds)
        figures["server_cpu_ms_per_request"] = round((server.cpu_seconds() - cpu0) / max(figures["requests"], 1) * 1000, 3)
        out[f"c{conc}"] = figures
        print(json.dumps({f"c{conc}": figures}), flush=True)
    return out


def rss_phase(cfg: ServeLoadConfig, server: Server, pool: list) -> dict:
    """RSS before/after ``--rss-requests`` requests, a truncated JPEG every tenth."""
    bad = pool[0][0][: len(pool[0][0]) // 3]
    seq = [(bad, pool[i % len(pool)][1]) if i % 10 == 9 else pool[i % len(pool)] for i in range(cfg.rss_requests)]
    load(server.url, pool * cfg.workers, 8, cfg.phase_seconds)  # every worker's cache holds the pool before RSS is read
    before = server.rss_mb()
    half = len(seq) // 2
    first, answers = load(server.url, seq[:half], 8, cfg.phase_seconds)
    mid = server.rss_mb()
    second, answers2 = load(server.url, seq[half:], 8, cfg.phase_seconds)
    after = server.rss_mb()
    refused = {k: first["failed_by_kind"].get(k, 0) + second["failed_by_kind"].get(k, 0) for k in {**first["failed_by_kind"], **second["failed_by_kind"]}}
    return {"requests": len(seq), "bad_inputs": len(seq) // 10, "answered_ok": len(answers) + len(answers2), "refused_by_kind": refused,
            "good_failed": len(seq) - len(seq) // 10 - len(answers) - len(answers2), "rss_before_mb": round(before, 1),
            "rss_mid_mb": round(mid, 1), "rss_after_mb": round(after, 1)}


def kill_phase(cfg: ServeLoadConfig, server: Server, pool: list, reference: dict, tol: float) -> dict:
    """kill -9 under load at concurrency 8, restart on the same port; every answer checked against ``reference``."""
    outcomes, max_dp, stop_flag, lock = {"ok": 0, "wrong": 0, "transport_errors": 0, "http_errors": 0}, [0.0], threading.Event(), threading.Lock()

    def hammer(k: int):
        with SelectorClient(server.url, timeout=30) as c:
            for n in range(100_000):
                if stop_flag.is_set():
                    return
                i = (k + 8 * n) % len(pool)
                try:
                    r = c.compare(pool[i][0], pool[i][1], QUERY, "")
                except ServeError:  # 503 while the restarted server warms up: back off
                    with lock:
                        outcomes["http_errors"] += 1
                    time.sleep(0.05)
                    continue
                except Exception:
                    with lock:
                        outcomes["transport_errors"] += 1
                    time.sleep(0.01)
                    continue
                dp = abs(r["p_a"] - reference[i])
                with lock:
                    max_dp[0] = max(max_dp[0], dp)
                    outcomes["ok" if dp <= tol else "wrong"] += 1

    with ThreadPoolExecutor(8) as ex:
        futures = [ex.submit(hammer, k) for k in range(8)]
        time.sleep(3)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
        ready_s = server.start()
        time.sleep(3)
        stop_flag.set()
        for f in futures:
            f.result(60)
    return {"seconds_to_readyz_after_restart": round(ready_s, 3), **outcomes, "max_abs_dp_a_vs_serial": max_dp[0], "tolerance": tol}

@dataclass(frozen=True)
class ServeLoadConfig:
    FLAGS = {"batching_off": "--batching-off/--no-batching-off"}
    export: Path = setting(help="Export folder the server and the in-process reference load.")
    precision: str = setting("int8", "Graph precision of the server and the in-process reference.")
    threads: int = setting(0, "ONNX Runtime intra-op threads (server and in-process alike).")
    workers: int = setting(1, "Server processes (c4u serve --workers).")
    server_threads: int | None = setting(None, "The server's intra-op threads when they differ from the in-process reference's.")
    requests: int = setting(200, "Requests per concurrency level (fresh pairs each).")
    concurrency: tuple[int, ...] = setting((1, 8, 32), "Concurrency levels, one phase each.")
    max_batch: int = setting(8, "The batching server's --max-batch.")
    max_wait_ms: float = setting(5.0, "The batching server's --max-wait-ms.")
    batching_off: bool = setting(True, "Also measure a server with --max-batch 1 (--no-batching-off skips it).")
    image_px: int = setting(256, "Side of the generated JPEG creatives.")
    rss_requests: int = setting(2000, "Requests of the RSS phase (a truncated JPEG every tenth).")
    pool: int = setting(64, "Pairs reused by the RSS and kill phases (their in-process reference is computed once).")
    tolerance: float | None = setting(None, "|dp_a| allowed against serial in-process (default: 1e-6 fp32, 0.02 int8).")
    phase_seconds: float = setting(300.0, "Cap on any one phase.")
    seed: int = setting(0, "Seed of the generated creatives.")

    def __post_init__(self):
        if self.requests < 1 or self.pool < 1 or self.workers < 1 or not self.concurrency:
            raise ValueError("requests, pool and workers must be at least 1, and give at least one concurrency level")


def serve_load(cfg: ServeLoadConfig) -> dict:
    """Every phase, a line each as it ends; the whole report (the JSON line)."""
    levels = list(cfg.concurrency)
    tol = cfg.tolerance if cfg.tolerance is not None else (1e-6 if cfg.precision == "fp32" else 0.02)
    n_timed = cfg.requests * (1 + 2 * len(levels)) + 32 + 16 * cfg.workers
    images = make_images(2 * n_timed + 2 * cfg.pool, cfg.image_px, cfg.seed)
    fresh, pool = Pairs(images[: 2 * n_timed]), list(zip(images[2 * n_timed::2], images[2 * n_timed + 1::2]))
    machine = cpu_info()
    report: dict = {"machine": machine, "args": settings_dict(cfg)}
    print(json.dumps({"machine": machine}), flush=True)
    report["in_process_serial"], reference = in_process(cfg, fresh, pool)
    print(json.dumps({"in_process_serial": report["in_process_serial"]}), flush=True)
    log = Path(tempfile.mkdtemp(prefix="c4u_serve_load_")) / "server.log"
    for label, max_batch in (("batching_on", cfg.max_batch), ("batching_off", 1))[: 2 if cfg.batching_off else 1]:
        server = Server(cfg.export, log, *server_flags(cfg, max_batch))
        try:
            report[f"{label}_seconds_to_ready"] = round(server.start(), 3)
            report[label] = levels_phase(cfg, server, fresh, levels)
            if label == "batching_on":
                report["rss"] = rss_phase(cfg, server, pool)
                print(json.dumps({"rss": report["rss"]}), flush=True)
                report["kill9"] = kill_phase(cfg, server, pool, reference, tol)
                print(json.dumps({"kill9": report["kill9"]}), flush=True)
        finally:
            server.stop()
    serial, on = report["in_process_serial"], report["batching_on"]
    report["figures"] = {
        "http_overhead_c1": round(on["c1"]["p50_ms"] / serial["p50_ms"] - 1, 3) if "c1" in on else None,
        "c8_vs_serial": round(on["c8"]["rps"] / serial["rps"], 3) if "c8" in on else None,
        "c8_p99_over_p50": round(on["c8"]["p99_ms"] / on["c8"]["p50_ms"], 3) if "c8" in on else None,
        "failed_requests": sum(v["failed"] for k in ("batching_on", "batching_off") for v in report.get(k, {}).values()),
        "server_log": str(log),
    }
    return report
