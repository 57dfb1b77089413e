"""Shutdown under a real uvicorn (the service's protocol class, its app) on 127.0.0.1, with a Selector whose compare
waits on a gate, so a request is reliably being computed when the server stops: it finishes; one past
``--graceful-timeout`` gets the JSON 503 with its request id, not uvicorn's plain-text 500."""

from __future__ import annotations

import io
import socket
import threading
import time
import types

import httpx
import pytest
import uvicorn
from PIL import Image

from creative4u_small.serve.app import create_app
from creative4u_small.serve.protocol import ServeProtocol
from creative4u_small.serve.serve_config import ServeConfig


class _GatedSelector:
    """Answers every pair with p_a 0.5 once ``gate`` is set (the warm-up passes at once); a stand-in for the model only."""

    backend, precision, images_encoded, manifest = "cpu", "fp32", 0, None

    def __init__(self):
        self.gate, self.computing = threading.Event(), threading.Event()
        self.gate.set()

    def prompt(self, query, title, strict=False):
        return None

    def frame(self, data, flag):
        return data

    def describe(self):
        return {"backend": "cpu"}

    def compare(self, a, b, query, title):
        return self.compare_many([(a, b, query, title)])[0]

    def compare_many(self, pairs, explain=False):
        self.computing.set()
        self.gate.wait(30)
        result = {"winner": "A", "p_a": 0.5}
        return [types.SimpleNamespace(to_dict=lambda: dict(result), winner="A", truncated={}, timings_ms={}) for _ in pairs]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 0)).save(buf, format="PNG")
    return buf.getvalue()


def _serve(graceful_s: float):
    selector = _GatedSelector()
    app = create_app(ServeConfig(graceful_timeout_s=graceful_s, max_batch=1), selector)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", http=ServeProtocol,
                                           timeout_graceful_shutdown=graceful_s))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    while not server.started and time.perf_counter() - t0 < 20:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    while httpx.get(url + "/readyz", timeout=5).status_code != 200 and time.perf_counter() - t0 < 20:
        time.sleep(0.02)
    return server, thread, selector, url


@pytest.mark.parametrize("graceful_s, answer", [(10.0, 200), (0.5, 503)], ids=["finishes", "past-graceful-timeout"])
def test_a_request_being_computed_at_shutdown(graceful_s, answer):
    server, thread, selector, url = _serve(graceful_s)
    selector.gate.clear()
    selector.computing.clear()
    png = _png()
    out = {}

    def post():
        out["r"] = httpx.post(url + "/v1/compare", files={"image_a": png, "image_b": png}, headers={"X-Request-ID": "computing-1"}, timeout=30)

    client = threading.Thread(target=post)
    client.start()
    assert selector.computing.wait(10)
    server.should_exit = True  # what SIGTERM sets
    time.sleep(0.3)
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2).close()  # no new connections
    if answer == 503:
        client.join(10)  # the graceful timeout passes with the compare still computing
    selector.gate.set()
    client.join(30)
    thread.join(30)
    r = out["r"]
    assert r.status_code == answer and r.headers["x-request-id"] == "computing-1", r.text
    if answer == 200:
        assert r.json()["p_a"] == 0.5
    else:
        assert r.json() == {"error": r.json()["error"], "kind": "shutting_down", "status": 503, "request_id": "computing-1"}
        assert "--graceful-timeout" in r.json()["error"]
