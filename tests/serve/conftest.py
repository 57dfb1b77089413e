"""A real `c4u serve` process on 127.0.0.1 (a free port) serving a tiny export, for the whole session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOKEN_ENV, TOKEN = "C4U_SERVE_TEST_TOKEN", "test-token-7f3a"
MAX_BODY_MB = 1.0
MAX_REQUEST_PIXELS = 30_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def c4u_bin() -> str:
    return str(Path(sys.executable).parent / "c4u")


class ServerProcess:
    """One `c4u serve` subprocess; ``stop()`` sends SIGTERM and waits (then kills) within a bound."""

    def __init__(self, export: Path, log: Path, *extra: str, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            [c4u_bin(), "serve", "--export", str(export), "--port", str(self.port), "--backend", "cpu", "--threads", "1", *extra],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=log.parent, env={**os.environ, **(env or {})},
        )

    def wait_ready(self, timeout: float = 90.0) -> float:
        import httpx

        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"c4u serve exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"c4u serve not ready after {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()


@pytest.fixture(scope="session")
def serve_export(tiny_export):
    """The session's tiny export (fp32 + INT8 + decoder graphs, tests/conftest.py); read-only."""
    return tiny_export


@pytest.fixture(scope="session")
def server(serve_export, tmp_path_factory):
    """The shared server: bearer token required, 1 MiB body cap, 30 M pixels a request, micro-batching on (8 pairs, 5 ms)."""
    srv = ServerProcess(serve_export, tmp_path_factory.mktemp("serve_log") / "serve.log",
                        "--api-key-env", TOKEN_ENV, "--max-body-mb", str(MAX_BODY_MB), "--max-batch", "8", "--max-wait-ms", "5",
                        "--max-rank-images", "16", "--max-request-pixels", str(MAX_REQUEST_PIXELS), env={TOKEN_ENV: TOKEN})
    srv.wait_ready()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(server):
    from creative4u_small.serve.client import SelectorClient

    with SelectorClient(server.url, api_key=TOKEN, timeout=60) as c:
        yield c
