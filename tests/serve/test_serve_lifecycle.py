"""A second server: slow or idle clients hold no queue slot and time out with 408; SIGTERM cuts bodies still arriving at once."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import ServerProcess

BODY_TIMEOUT_S = 6


def _gauge(url: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", httpx.get(url + "/metrics", timeout=5).text, re.M)
    return float(m.group(1))


@pytest.fixture(scope="module")
def small_queue_server(serve_export, tmp_path_factory):
    """One server for this module (two queue slots, a short body deadline); the SIGTERM test (last) stops it."""
    srv = ServerProcess(serve_export, tmp_path_factory.mktemp("small_queue") / "serve.log", "--max-queue", "2", "--max-batch", "4",
                        "--retry-after", "3", "--body-timeout-s", str(BODY_TIMEOUT_S), "--body-grace-s", "30")
    srv.wait_ready()
    yield srv
    srv.stop()


def _slow_post(url: str, p, gate: threading.Event, explain: bool = True):
    """POST /v1/compare whose body stops after 500 bytes until ``gate`` is set (the request stays being read)."""
    req = httpx.Request("POST", url + "/v1/compare", files={"image_a": p.image_a.read_bytes(), "image_b": p.image_b.read_bytes()},
                        data={"query": p.query, "title": p.title, "explain": "true" if explain else "false"})
    body, ctype = req.read(), req.headers["content-type"]

    def slow_body():
        yield body[:500]
        gate.wait(30)
        yield body[500:]

    return httpx.post(url + "/v1/compare", content=slow_body(), headers={"content-type": ctype}, timeout=60)


def _wait_reading(url: str, n: int) -> None:
    t0 = time.perf_counter()
    while _gauge(url, "c4u_reading") < n and time.perf_counter() - t0 < 20:
        time.sleep(0.01)
    assert _gauge(url, "c4u_reading") == n


def test_two_replicas_behind_a_round_robin_answer_alike(server, small_queue_server, synth_pairs):
    """Stateless replicas: requests spread over two processes (as a load balancer would) give one answer per pair."""
    from conftest import TOKEN

    from creative4u_small.serve.client import SelectorClient

    with SelectorClient(server.url, api_key=TOKEN) as a, SelectorClient(small_queue_server.url) as b:
        for k, p in enumerate(synth_pairs[52:58]):
            first, second = (a, b) if k % 2 else (b, a)
            x, y = first.compare(p.image_a, p.image_b, p.query, p.title), second.compare(p.image_a, p.image_b, p.query, p.title)
            assert (x["winner"], x["p_a"]) == (y["winner"], y["p_a"])


def test_more_slow_clients_than_queue_slots_and_good_requests_still_answered(small_queue_server, tiny_selector, synth_pairs):
    """Five uploads stalled mid-body on a server with --max-queue 2: they hold no queue slot, a good compare is
    answered at once and right, and each stalled one is answered in full once its body arrives."""
    url = small_queue_server.url
    p, q = synth_pairs[1], synth_pairs[2]
    want, good = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title, explain=True), tiny_selector.compare(q.image_a, q.image_b, q.query, q.title)
    gates = [threading.Event() for _ in range(5)]
    with ThreadPoolExecutor(5) as pool:
        held = [pool.submit(_slow_post, url, p, gate) for gate in gates]
        _wait_reading(url, 5)
        assert _gauge(url, "c4u_queue_depth") == 0
        r = httpx.post(url + "/v1/compare", files={"image_a": q.image_a.read_bytes(), "image_b": q.image_b.read_bytes()},
                       data={"query": q.query, "title": q.title}, timeout=30)
        assert r.status_code == 200 and abs(r.json()["p_a"] - good.p_a) <= 1e-6, r.text
        for gate, f in zip(gates, held):  # one body at a time: five at once would rightly overflow two slots
            gate.set()
            answer = f.result(60)
            assert answer.status_code == 200, answer.text
            assert abs(answer.json()["p_a"] - want.p_a) <= 1e-6 and answer.json()["rationale"] == want.rationale


def test_a_body_that_never_arrives_gets_408_and_its_connection_closed(small_queue_server):
    host, port = small_queue_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=BODY_TIMEOUT_S + 20) as sock:
        sock.sendall(b"POST /v1/compare HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 100000\r\n\r\n--b\r\nContent-Di")
        t0 = time.perf_counter()
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and b"connection: close" in head.lower(), reply[:300]
    assert BODY_TIMEOUT_S - 1 <= time.perf_counter() - t0 <= BODY_TIMEOUT_S + 10
    assert b'"kind": "timeout"' in body and b"--body-timeout-s" in body and b"x-request-id" in head.lower()


def test_sigterm_cuts_a_body_still_arriving_at_once_and_exits(small_queue_server):
    """SIGTERM with an upload stalled mid-body: it gets the JSON 503 at once (not after --graceful-timeout), new
    connections are refused, and the process exits within seconds."""
    srv = small_queue_server
    host, port = srv.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(b"POST /v1/compare HTTP/1.1\r\nHost: x\r\nX-Request-ID: cut-1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 100000\r\n\r\n--b\r\nContent-Di")
        _wait_reading(srv.url, 1)
        t0 = time.perf_counter()
        srv.proc.send_signal(signal.SIGTERM)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
        answered_s = time.perf_counter() - t0
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503") and b"connection: close" in head.lower() and answered_s < 2, (reply[:300], answered_s)
    assert json.loads(body) == {"error": json.loads(body)["error"], "kind": "shutting_down", "status": 503, "request_id": "cut-1"}
    assert srv.proc.wait(10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert time.perf_counter() - t0 < 5
    with pytest.raises(httpx.TransportError):
        httpx.get(srv.url + "/healthz", timeout=5)
    log = srv.log()
    assert '"request_id": "cut-1"' in log.split('"msg": "Shutting down"', 1)[1] and '"msg": "stopped"' in log
