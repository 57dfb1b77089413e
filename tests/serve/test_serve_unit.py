"""Checks of the serve package apart from the full server: config validation, admission, the guard's last-resort 500, `c4u serve --help`."""

from __future__ import annotations

import asyncio
import time
import types

import pytest
from typer.testing import CliRunner

from creative4u_small.contract.settings import help_of
from creative4u_small.serve.batcher import MicroBatcher
from creative4u_small.serve.limits import RequestError
from creative4u_small.serve.serve_config import ServeConfig


@pytest.mark.parametrize("bad, message", [
    (dict(port=0), "port must be"), (dict(max_batch=0), "max_batch must be at least 1"), (dict(workers=0), "workers must be at least 1"),
    (dict(max_queue=0), "max_queue"), (dict(max_reading=0), "max_reading"), (dict(body_timeout_s=0), "body_timeout_s must be above 0"),
    (dict(max_wait_ms=-1), "max_wait_ms must be 0 or more"), (dict(max_body_mb=0), "max_body_mb"),
    (dict(max_request_pixels=-1), "max_request_pixels"), (dict(api_key_env="MY-TOKEN"), "environment variable name"), (dict(log_level="loud"), "log_level"),
])
def test_serve_config_refuses_bad_values(bad, message):
    with pytest.raises(ValueError, match=message):
        ServeConfig(**bad)


def test_every_serve_config_field_has_help():
    assert all(help_of(ServeConfig, name) for name in ServeConfig.__dataclass_fields__)


def test_serve_options_build_the_selector_config_it_holds(tmp_path, monkeypatch):
    """--backend, --precision, --threads, --max-pixels, --cache-images are the SelectorConfig's own fields."""
    import creative4u_small.cli.serve as serve_cli
    from creative4u_small.cli import app
    from creative4u_small.runtime.selector_config import SelectorConfig

    got = []
    monkeypatch.setattr(serve_cli, "run_server", got.append)
    args = ["serve", "--export", str(tmp_path), "--precision", "int8", "--threads", "3", "--max-pixels", "1000", "--workers", "2"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert got[0].selector == SelectorConfig(precision="int8", threads=3, max_pixels=1000) and got[0].workers == 2
    assert ServeConfig.from_dict(got[0].to_dict()) == got[0]  # what a worker process rebuilds from its environment
    with pytest.raises(ValueError, match="precision 'fp8'"):
        ServeConfig(selector=SelectorConfig(precision="fp8"))


def test_reading_and_the_queue_are_capped_apart_with_retry_after():
    """A request being read holds no queue slot: max_reading and max_queue each refuse with 503 on their own."""
    batcher = MicroBatcher(selector=None, max_batch=4, max_wait_ms=1, max_queue=2, max_reading=3, retry_after_s=7)
    with batcher.reading(compare=True), batcher.reading(compare=False), batcher.reading(compare=True):
        with pytest.raises(RequestError) as e, batcher.reading(compare=True):
            pass
        assert e.value.status == 503 and e.value.kind == "busy" and "--max-reading" in e.value.reason
        assert batcher.depth == 0
        with batcher.admit(), batcher.admit():
            assert batcher.depth == 2
            with pytest.raises(RequestError) as e, batcher.admit():
                pass
            assert e.value.status == 503 and e.value.headers == {"Retry-After": "7"} and "limit 2, --max-queue" in e.value.reason
    assert batcher.depth == 0 and batcher._reading == 0
    batcher.executor.shutdown()


class _CountingSelector:
    """compare_many records each call's pairs; compare is one more call."""

    images_encoded = 0

    def __init__(self):
        self.calls = []

    def compare_many(self, pairs, explain=False):
        self.calls.append(len(pairs))
        time.sleep(0.05)
        return [types.SimpleNamespace(timings_ms={}, pair=p) for p in pairs]


def test_concurrent_compares_share_one_call_and_a_lone_one_runs_alone():
    async def main():
        sel = _CountingSelector()
        batcher = MicroBatcher(sel, max_batch=8, max_wait_ms=50, max_queue=64, max_reading=8, retry_after_s=1)
        batcher.start()
        lone = await batcher.compare("a", "b", "q", "t", False)
        busy = await batcher.run(time.sleep, 0)  # the worker thread is free again
        got = await asyncio.gather(*(batcher.compare(f"a{i}", "b", "q", "t", False) for i in range(5)))
        await batcher.close()
        return sel.calls, lone, busy, got

    calls, lone, busy, got = asyncio.run(main())
    assert lone[2] == 1 and busy is None
    assert calls[0] == 1 and sum(calls[1:]) == 5 and max(calls[1:]) > 1, calls
    assert [r[0].pair[0] for r in got] == [f"a{i}" for i in range(5)]


def test_serve_help():
    from creative4u_small.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--export", "--host", "--port", "--backend", "--precision", "--workers", "--threads", "--max-batch", "--max-wait-ms", "--max-queue",
                   "--max-reading", "--body-timeout-s", "--max-request-pixels", "--max-text-chars", "--api-key-env", "Example"):
        assert option in result.output, option


def test_serve_refuses_a_missing_export_in_one_line(tmp_path):
    from creative4u_small.cli import app

    result = CliRunner().invoke(app, ["serve", "--export", str(tmp_path / "nothing"), "--port", "18999"])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output


def test_serve_refuses_an_unset_token_variable_before_loading(tmp_path, monkeypatch):
    from creative4u_small.cli import app

    monkeypatch.delenv("C4U_UNSET_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve", "--export", str(tmp_path), "--backend", "cpu", "--api-key-env", "C4U_UNSET_TOKEN"])
    assert result.exit_code == 2 and "C4U_UNSET_TOKEN" in result.output


def test_a_server_process_maps_large_blocks_on_their_own():
    """Decoded creatives are freed back to the system, not kept in per-thread heaps (serve/memory.py has the figures)."""
    import platform
    import subprocess
    import sys

    code = "from creative4u_small.serve.memory import return_large_blocks; print(return_large_blocks())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert out == "mmap threshold 4 MiB"
    else:
        assert out == "allocator unchanged (not glibc)"


def test_an_unhandled_error_is_the_json_500_with_its_request_id_and_the_connection_lives_on():
    """The guard's last resort under a real uvicorn on 127.0.0.1: an endpoint that raises answers the documented
    JSON 500 carrying X-Request-ID, and the next request on the same keep-alive connection is answered."""
    import threading

    import httpx
    import uvicorn
    from fastapi import FastAPI

    from creative4u_small.serve.guard import RequestGuard

    app = FastAPI()
    app.add_api_route("/boom", lambda: 1 / 0, methods=["GET"])
    app.add_api_route("/ok", lambda: {"ok": True}, methods=["GET"])
    app.add_middleware(RequestGuard, max_body_bytes=1000)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    while not server.started and time.perf_counter() - t0 < 20:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        peers = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for path in ("/boom", "/ok", "/boom", "/ok"):
                r = client.get(path, headers={"X-Request-ID": f"trace{path.replace('/', '-')}"},
                               extensions={"trace": lambda name, info: peers.append(info) if name == "connection.connect_tcp.complete" else None})
                if path == "/boom":
                    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
                    assert r.json() == {"error": "internal error (ZeroDivisionError); see the server log for this request id",
                                        "kind": "internal", "status": 500, "request_id": "trace-boom"}
                    assert r.headers["x-request-id"] == "trace-boom" and r.headers.get("connection") != "close"
                else:
                    assert r.status_code == 200 and r.json() == {"ok": True}
        assert len(peers) == 1, "the connection was dropped after a 500"
    finally:
        server.should_exit = True
        thread.join(10)
