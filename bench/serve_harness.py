"""What the serve benchmarks share: a real `c4u serve` process on 127.0.0.1, fresh JPEG creatives, latency stats."""

from __future__ import annotations

import io
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


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
    ms = np.asarray(latencies_s or [float("nan")]) * 1000
    return {"requests": len(latencies_s), "failed": sum(failed.values()), "failed_by_kind": failed, "rps": round(len(latencies_s) / wall_s, 2) if wall_s else None,
            "p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3), "mean_ms": round(float(ms.mean()), 3)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `c4u serve` subprocess on a free port (``extra``: its flags), logging to ``log``."""

    def __init__(self, export: Path, log: Path, *extra: str, env: dict | None = None, port: int | None = None, nofile: int | None = None):
        self.export, self.log, self.extra, self.env, self.nofile = export, log, [str(x) for x in extra], env, nofile
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, timeout: float = 300.0) -> float:
        """Start and wait for /readyz; the seconds it took."""
        import os

        cmd = [str(Path(sys.executable).parent / "c4u"), "serve", "--export", str(self.export), "--port", str(self.port), "--backend", "cpu",
               "--log-level", "warning", *self.extra]
        limit = None
        if self.nofile:  # the server's open-files limit, as prlimit would set it
            import resource

            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env={**os.environ, **(self.env or {})}, preexec_fn=limit)
        return self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> float:
        from creative4u_small.serve.client import SelectorClient

        t0 = time.perf_counter()
        with SelectorClient(self.url) as c:
            while time.perf_counter() - t0 < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
                if c.ready():
                    return time.perf_counter() - t0
                time.sleep(0.01)
        raise TimeoutError(f"server not ready after {timeout} s; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def rss_mb(self) -> float:
        """Resident memory of the server and its worker processes together."""
        import psutil

        root = psutil.Process(self.proc.pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20

    def cpu_seconds(self) -> float:
        import psutil

        root = psutil.Process(self.proc.pid)
        return sum(t.user + t.system for t in (p.cpu_times() for p in [root, *root.children(recursive=True)]))
