"""A second server: a full queue answers 503 with Retry-After; SIGTERM lets in-flight requests finish."""

from __future__ import annotations

import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import ServerProcess


def _depth(url: str) -> float:
    m = re.search(r"^c4u_queue_depth (\S+)$", httpx.get(url + "/metrics", timeout=5).text, re.M)
    return float(m.group(1))


@pytest.fixture(scope="module")
def small_queue_server(serve_export, tmp_path_factory):
    """One server for this module; the SIGTERM test (last) stops it."""
    srv = ServerProcess(serve_export, tmp_path_factory.mktemp("small_queue") / "serve.log", "--max-queue", "2", "--max-batch", "4", "--retry-after", "3")
    srv.wait_ready()
    yield srv
    srv.stop()


def _slow_post(url: str, p, gate: threading.Event, explain: bool = True):
    """POST /v1/compare whose body stops after 500 bytes until ``gate`` is set (the request stays admitted)."""
    req = httpx.Request("POST", url + "/v1/compare", files={"image_a": p.image_a.read_bytes(), "image_b": p.image_b.read_bytes()},
                        data={"query": p.query, "title": p.title, "explain": "true" if explain else "false"})
    body, ctype = req.read(), req.headers["content-type"]

    def slow_body():
        yield body[:500]
        gate.wait(30)
        yield body[500:]

    return httpx.post(url + "/v1/compare", content=slow_body(), headers={"content-type": ctype}, timeout=60)


def _wait_depth(url: str, n: int) -> None:
    t0 = time.perf_counter()
    while _depth(url) < n and time.perf_counter() - t0 < 20:
        time.sleep(0.01)
    assert _depth(url) == n


def test_two_replicas_behind_a_round_robin_answer_alike(server, small_queue_server, synth_pairs):
    """Stateless replicas: requests spread over two processes (as a load balancer would) give one answer per pair."""
    from creative4u_small.client import SelectorClient

    from conftest import TOKEN

    with SelectorClient(server.url, api_key=TOKEN) as a, SelectorClient(small_queue_server.url) as b:
        for k, p in enumerate(synth_pairs[52:58]):
            first, second = (a, b) if k % 2 else (b, a)
            x, y = first.compare(p.image_a, p.image_b, p.query, p.title), second.compare(p.image_a, p.image_b, p.query, p.title)
            assert (x["winner"], x["p_a"]) == (y["winner"], y["p_a"])


def test_full_queue_gets_503_with_retry_after_then_recovers(small_queue_server, tiny_selector, synth_pairs):
    url = small_queue_server.url
    p = synth_pairs[1]
    want = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title, explain=True)
    gate = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(_slow_post, url, p, gate) for _ in range(2)]
        _wait_depth(url, 2)  # both places of --max-queue 2 are held
        files = {"image_a": p.image_a.read_bytes(), "image_b": p.image_b.read_bytes()}
        r = httpx.post(url + "/v1/compare", files=files, data={"query": p.query, "title": p.title}, timeout=30)
        assert r.status_code == 503 and r.headers["retry-after"] == "3" and r.json()["kind"] == "overloaded", r.text
        gate.set()
        for f in held:
            answer = f.result(60)
            assert answer.status_code == 200, answer.text
            assert abs(answer.json()["p_a"] - want.p_a) <= 1e-6 and answer.json()["rationale"] == want.rationale
    assert httpx.post(url + "/v1/compare", files=files, data={"query": p.query, "title": p.title}, timeout=30).status_code == 200
    assert 'c4u_errors_total{kind="overloaded"} 1.0' in httpx.get(url + "/metrics", timeout=5).text


def test_sigterm_finishes_in_flight_requests(small_queue_server, tiny_selector, synth_pairs):
    """A request whose body is still arriving when SIGTERM lands is answered in full; new connections are refused."""
    srv = small_queue_server
    p = synth_pairs[8]
    want = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title, explain=True)
    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(_slow_post, srv.url, p, gate)
        _wait_depth(srv.url, 1)  # admitted, its body still arriving
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):
            httpx.get(srv.url + "/healthz", timeout=5)
        assert srv.proc.poll() is None  # still finishing the request in flight
        gate.set()
        r = future.result(60)
    assert r.status_code == 200, r.text
    assert abs(r.json()["p_a"] - want.p_a) <= 1e-6 and r.json()["rationale"] == want.rationale
    assert srv.proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    log = srv.log()
    after = log.split('"msg": "Shutting down"', 1)[1]
    assert '"path": "/v1/compare", "status": 200' in after and '"msg": "stopped"' in after
