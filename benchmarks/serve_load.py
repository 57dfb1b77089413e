"""`c4u serve` under load, side by side in one run: HTTP vs in-process, batching on vs off, bad input, kill -9.

Bounded loopback traffic from an httpx driver (``creative4u_small.client``), every phase capped in
requests and seconds. Each timed request carries a pair of creatives never sent before (JPEGs made
up front), so the embedding cache does not flatter the figures. Phases:

1. serial in-process ``Selector.compare`` (the reference) on fresh pairs;
2. a server with micro-batching on: concurrency 1, 8, 32 (throughput, p50/p99, failures);
3. a server with ``--max-batch 1`` (batching off) at the same concurrencies;
4. RSS of the server before and after ``--rss-requests`` requests with a truncated JPEG every tenth
   (pairs cycle over a fixed pool, so the embedding cache is already full: growth would be a leak);
5. ``kill -9`` of the server under load at concurrency 8, restart: seconds to /readyz, and every
   answer checked against the in-process result (``--tolerance``).

Targets (the issue's): HTTP overhead at concurrency 1 <= 10% of a compare; concurrency 8 throughput
>= 1.2x serial in-process; p99 at concurrency 8 <= 3x p50. The last line is one JSON object.

    c4u model init --preset mini --out /tmp/srv_model && c4u export --model /tmp/srv_model --out /tmp/srv_export --int8
    python benchmarks/serve_load.py --export /tmp/srv_export --precision int8
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

TARGETS = {"http_overhead_c1_max": 0.10, "c8_vs_serial_min": 1.2, "c8_p99_over_p50_max": 3.0}


def cpu_info() -> dict:
    out = {"cpu": "", "cores": os.cpu_count(), "flags": []}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                out["cpu"] = value.strip()
            if key.strip() == "Flags":
                out["flags"] = [f for f in value.split() if f.startswith(("avx", "fma", "f16c", "amx")) or "vnni" in f]
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def make_images(n: int, px: int, seed: int) -> list[bytes]:
    """``n`` distinct JPEG creatives: a background, a product block and a headline bar at random."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        im = Image.new("RGB", (px, px), tuple(rng.randrange(256) for _ in range(3)))
        d = ImageDraw.Draw(im)
        for _ in range(3):
            x0, y0 = rng.randrange(px // 2), rng.randrange(px // 2)
            d.rectangle([x0, y0, x0 + rng.randrange(px // 8, px // 2), y0 + rng.randrange(px // 8, px // 2)], fill=tuple(rng.randrange(256) for _ in range(3)))
        d.rectangle([0, px - px // 6, px, px], fill=tuple(rng.randrange(256) for _ in range(3)))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=85)
        out.append(buf.getvalue())
    return out


class Pairs:
    """Hands out fresh (a, b) pairs from a pre-made pool; never the same image twice."""

    def __init__(self, images: list[bytes]):
        self.images, self.next, self.lock = images, 0, threading.Lock()

    def take(self, n: int) -> list[tuple[bytes, bytes]]:
        with self.lock:
            if self.next + 2 * n > len(self.images):
                raise RuntimeError("image pool exhausted; a bug in this script")
            chunk = self.images[self.next: self.next + 2 * n]
            self.next += 2 * n
        return list(zip(chunk[0::2], chunk[1::2]))


def stats(latencies_s: list[float], wall_s: float, failed: dict) -> dict:
    ms = np.asarray(latencies_s) * 1000
    return {"requests": len(latencies_s), "failed": sum(failed.values()), "failed_by_kind": failed, "rps": round(len(latencies_s) / wall_s, 2) if wall_s else None,
            "p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, port: int, max_batch: int, log: Path) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).parent / "c4u"), "serve", "--export", str(args.export), "--port", str(port), "--backend", "cpu",
           "--precision", args.precision, "--threads", str(args.threads if args.server_threads is None else args.server_threads), "--lanes", str(args.lanes), "--widen" if args.widen else "--no-widen", "--max-batch", str(max_batch), "--max-wait-ms", str(args.max_wait_ms),
           "--max-queue", "256", "--log-level", "warning"]
    return subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def wait_ready(client, proc, timeout: float) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if client.ready():
            return time.perf_counter() - t0
        time.sleep(0.01)
    raise TimeoutError(f"server not ready after {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def load(url: str, pairs: list[tuple[bytes, bytes]], concurrency: int, query: str, deadline_s: float) -> tuple[dict, list]:
    """Send ``pairs`` with ``concurrency`` client threads (one connection pool each); stops at ``deadline_s``."""
    from creative4u_small.client import SelectorClient, ServeError

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
                    r = c.compare(pairs[i][0], pairs[i][1], query, "")
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


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(server process, this driver process) user + system CPU seconds."""
    import psutil

    a, b = psutil.Process(pid).cpu_times(), psutil.Process().cpu_times()
    return a.user + a.system, b.user + b.system


def server_rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (server and in-process alike)")
    ap.add_argument("--requests", type=int, default=200, help="requests per concurrency level (fresh pairs each)")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--lanes", type=int, default=1, help="server batches run at once (c4u serve --lanes)")
    ap.add_argument("--no-widen", dest="widen", action="store_false", help="c4u serve --no-widen: a lone request runs on one lane's threads")
    ap.add_argument("--server-threads", type=int, default=None,
                    help="the server's intra-op threads when they differ from the in-process reference's (e.g. --lanes 2 --server-threads 1)")
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--image-px", type=int, default=256)
    ap.add_argument("--rss-requests", type=int, default=2000)
    ap.add_argument("--pool", type=int, default=64, help="pairs reused by the RSS and kill phases (their in-process reference is computed once)")
    ap.add_argument("--tolerance", type=float, default=None, help="|dp_a| allowed against serial in-process (default: 1e-6 fp32, 0.02 int8)")
    ap.add_argument("--phase-seconds", type=float, default=300.0, help="cap on any one phase")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    tol = args.tolerance if args.tolerance is not None else (1e-6 if args.precision == "fp32" else 0.02)
    query = "trail running shoes"

    from creative4u_small.client import SelectorClient
    from creative4u_small.runtime import Selector, SelectorConfig

    n_timed = args.requests * (1 + 2 * len(levels)) + 32  # + warm-ups
    images = make_images(2 * n_timed + 2 * args.pool, args.image_px, args.seed)
    fresh = Pairs(images[: 2 * n_timed])
    pool = list(zip(images[2 * n_timed::2], images[2 * n_timed + 1::2]))
    bad = images[0][: len(images[0]) // 3]
    report: dict = {"machine": cpu_info(), "export": str(args.export), "precision": args.precision, "requests_per_level": args.requests,
                    "image_px": args.image_px, "lanes": args.lanes, "widen": args.widen, "server_threads": args.server_threads, "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms}
    print(json.dumps({"machine": report["machine"]}), flush=True)

    # 1. serial in-process reference
    sel = Selector.load(args.export, backend="cpu", config=SelectorConfig(precision=args.precision, threads=args.threads))
    sel.compare(*fresh.take(1)[0], query, "")
    lat = []
    t0 = time.perf_counter()
    cpu0 = cpu_seconds(os.getpid())[1]
    for a, b in fresh.take(args.requests):
        t1 = time.perf_counter()
        sel.compare(a, b, query, "")
        lat.append(time.perf_counter() - t1)
    report["in_process_serial"] = stats(lat, time.perf_counter() - t0, {})
    report["in_process_serial"]["cpu_ms_per_request"] = round((cpu_seconds(os.getpid())[1] - cpu0) / args.requests * 1000, 3)
    reference = {i: sel.compare(a, b, query, "").p_a for i, (a, b) in enumerate(pool)}
    print(json.dumps({"in_process_serial": report["in_process_serial"]}), flush=True)

    log = Path(tempfile.mkdtemp(prefix="c4u_serve_load_")) / "server.log"
    # 2 + 3. HTTP at each concurrency, batching on then off
    for label, max_batch in (("batching_on", args.max_batch), ("batching_off", 1)):
        port = free_port()
        proc = start_server(args, port, max_batch, log)
        url = f"http://127.0.0.1:{port}"
        try:
            with SelectorClient(url) as c:
                wait_ready(c, proc, 120)
            load(url, fresh.take(8), 8, query, args.phase_seconds)  # warm-up: connections, threads
            report[label] = {}
            for conc in levels:
                cpu0 = cpu_seconds(proc.pid)
                figures, _ = load(url, fresh.take(args.requests), conc, query, args.phase_seconds)
                cpu1 = cpu_seconds(proc.pid)
                figures["server_cpu_ms_per_request"] = round((cpu1[0] - cpu0[0]) / max(figures["requests"], 1) * 1000, 3)
                figures["driver_cpu_ms_per_request"] = round((cpu1[1] - cpu0[1]) / max(figures["requests"], 1) * 1000, 3)
                report[label][f"c{conc}"] = figures
                print(json.dumps({label: {f"c{conc}": figures}}), flush=True)
            if label != "batching_on":
                continue
            # 4. RSS before/after, a truncated JPEG every tenth request
            seq = [(bad, pool[i % len(pool)][1]) if i % 10 == 9 else pool[i % len(pool)] for i in range(args.rss_requests)]
            with SelectorClient(url) as c:
                for a, b in pool:
                    c.compare(a, b, query, "")  # the pool's embeddings are in the cache before RSS is read
            rss_before = server_rss_mb(proc.pid)
            half = len(seq) // 2
            first, answers = load(url, seq[:half], 8, query, args.phase_seconds)
            rss_mid = server_rss_mb(proc.pid)
            second, answers2 = load(url, seq[half:], 8, query, args.phase_seconds)
            rss_after = server_rss_mb(proc.pid)
            good = len(answers) + len(answers2)
            refused = {k: first["failed_by_kind"].get(k, 0) + second["failed_by_kind"].get(k, 0) for k in {**first["failed_by_kind"], **second["failed_by_kind"]}}
            report["rss"] = {"requests": len(seq), "bad_inputs": len(seq) // 10, "answered_ok": good, "refused_by_kind": refused,
                             "good_failed": len(seq) - len(seq) // 10 - good, "rss_before_mb": round(rss_before, 1), "rss_mid_mb": round(rss_mid, 1),
                             "rss_after_mb": round(rss_after, 1), "growth_first_half_mb": round(rss_mid - rss_before, 1),
                             "growth_second_half_mb": round(rss_after - rss_mid, 1)}
            print(json.dumps({"rss": report["rss"]}), flush=True)
        finally:
            stop(proc)

    # 5. kill -9 under load, restart, time to /readyz; every answer checked
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(args, port, args.max_batch, log)
    with SelectorClient(url) as c:
        wait_ready(c, proc, 120)
    outcomes = {"ok": 0, "wrong": 0, "transport_errors": 0, "http_errors": 0}
    max_dp = [0.0]
    stop_flag = threading.Event()
    lock = threading.Lock()

    def hammer(k: int):
        from creative4u_small.client import ServeError

        with SelectorClient(url, timeout=30) as c:
            for n in range(100_000):
                if stop_flag.is_set():
                    return
                i = (k + 8 * n) % len(pool)
                try:
                    r = c.compare(pool[i][0], pool[i][1], query, "")
                except ServeError as e:  # 503 while the restarted server warms up: back off as Retry-After asks
                    with lock:
                        outcomes["http_errors"] += 1
                        outcomes.setdefault("http_errors_by_kind", {})[e.kind] = outcomes.get("http_errors_by_kind", {}).get(e.kind, 0) + 1
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
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc = start_server(args, port, args.max_batch, log)
        with SelectorClient(url) as c:
            ready_s = wait_ready(c, proc, 120)
        time.sleep(3)
        stop_flag.set()
        for f in futures:
            f.result(60)
    stop(proc)
    report["kill9"] = {"seconds_to_readyz_after_restart": round(ready_s, 3),
                       **outcomes, "max_abs_dp_a_vs_serial": max_dp[0], "tolerance": tol}
    print(json.dumps({"kill9": report["kill9"]}), flush=True)

    serial = report["in_process_serial"]
    on, off = report["batching_on"], report["batching_off"]
    figures = {
        "http_overhead_c1": round(on["c1"]["p50_ms"] / serial["p50_ms"] - 1, 3) if "c1" in on else None,
        "c8_vs_serial": round(on["c8"]["rps"] / serial["rps"], 3) if "c8" in on else None,
        "c8_p99_over_p50": round(on["c8"]["p99_ms"] / on["c8"]["p50_ms"], 3) if "c8" in on else None,
        "batching_gain_c8": round(on["c8"]["rps"] / off["c8"]["rps"], 3) if "c8" in on and "c8" in off else None,
        "batching_gain_c32": round(on["c32"]["rps"] / off["c32"]["rps"], 3) if "c32" in on and "c32" in off else None,
        "failed_requests": sum(v["failed"] for d in (on, off) for v in d.values()),
    }
    met = {"http_overhead_c1_max": figures["http_overhead_c1"] is not None and figures["http_overhead_c1"] <= TARGETS["http_overhead_c1_max"],
           "c8_vs_serial_min": figures["c8_vs_serial"] is not None and figures["c8_vs_serial"] >= TARGETS["c8_vs_serial_min"],
           "c8_p99_over_p50_max": figures["c8_p99_over_p50"] is not None and figures["c8_p99_over_p50"] <= TARGETS["c8_p99_over_p50_max"]}
    report.update({"figures": figures, "targets": TARGETS, "met": met, "server_log": str(log)})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
