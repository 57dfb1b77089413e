"""Connection hygiene of a real server on 127.0.0.1: malformed HTTP, the header deadline, paced bodies, the connection cap."""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import httpx
import pytest
from conftest import ServerProcess

HEADER_TIMEOUT_S, GRACE_S = 1.5, 2.0
STALLED = (b"POST /v1/compare HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
           b"Content-Length: 100000\r\n\r\n--b\r\nContent-Di")


@pytest.fixture(scope="module")
def hygiene_server(serve_export, tmp_path_factory):
    srv = ServerProcess(serve_export, tmp_path_factory.mktemp("hygiene") / "serve.log", "--header-timeout-s", str(HEADER_TIMEOUT_S),
                        "--body-grace-s", str(GRACE_S), "--min-body-rate", "64", "--max-reading", "2", "--max-connections", "6")
    srv.wait_ready()
    yield srv
    srv.stop()


def _connect(url: str, timeout: float = 20) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def _read_all(sock: socket.socket) -> bytes:
    out = b""
    with sock:
        while chunk := sock.recv(65536):
            out += chunk
    return out


def _json_refusal(reply: bytes, status: int) -> dict:
    """The refusal's JSON body, checked: that status, JSON content type, the same request id in header and body, closed."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode().lower().split("\r\n")
    assert lines[0].startswith(f"http/1.1 {status}"), reply[:300]
    headers = dict(line.split(": ", 1) for line in lines[1:])
    out = json.loads(body)
    assert headers["content-type"] == "application/json" and headers["x-request-id"] == out["request_id"].lower() and out["status"] == status
    assert set(out) == {"error", "kind", "status", "request_id"} and "\n" not in out["error"]
    return out


def _good(url: str, pair) -> httpx.Response:
    return httpx.post(url + "/v1/compare", files={"image_a": pair.image_a.read_bytes(), "image_b": pair.image_b.read_bytes()},
                      data={"query": pair.query, "title": pair.title}, timeout=30)


@pytest.mark.parametrize("raw", [b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n",
                                 b"GET /healthz HTTP/1.1\r\nHo st: x\r\n\r\n",
                                 b"POST /v1/compare HTTP/1.1\r\nHost: x\r\nX-Request-ID: chunk-1\r\nContent-Type: application/json\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"], ids=["request-line", "content-length", "header", "chunk-size"])
def test_malformed_http_gets_the_json_400_with_a_request_id(hygiene_server, raw):
    sock = _connect(hygiene_server.url)
    sock.sendall(raw)
    out = _json_refusal(_read_all(sock), 400)
    assert out["kind"] == "bad_request" and "malformed HTTP/1.1" in out["error"]
    if b"chunk-1" in raw:
        assert out["request_id"] == "chunk-1"


def test_the_header_deadline_runs_from_accept_and_from_each_answer(hygiene_server):
    """Nothing sent: closed without a word. Part of a head: 408. After an answer on a keep-alive connection, the next
    head has the same deadline."""
    replies = {}

    def run(name, first: bytes, then: bytes | None = None):
        sock = _connect(hygiene_server.url)
        sock.sendall(first)
        if then is not None:  # read the first answer, then send part of a second head
            got = b""
            while b'{"status":"ok"}' not in got:
                got += sock.recv(4096)
            sock.sendall(then)
        t0 = time.perf_counter()
        replies[name] = (_read_all(sock), time.perf_counter() - t0)

    threads = [threading.Thread(target=run, args=a) for a in (("silent", b""), ("partial", b"GET /heal"),
                                                               ("second", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /heal"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert replies["silent"][0] == b"" and HEADER_TIMEOUT_S - 0.5 <= replies["silent"][1] <= HEADER_TIMEOUT_S + 5
    for name in ("partial", "second"):
        out = _json_refusal(replies[name][0], 408)
        assert out["kind"] == "timeout" and "--header-timeout-s" in out["error"] and replies[name][1] <= HEADER_TIMEOUT_S + 5


def test_a_stalled_or_trickling_body_gets_408_after_the_grace(hygiene_server):
    """Both fall behind 64 KiB/s once the grace is over: a body that stopped, and one arriving at 400 bytes/s."""
    out = {}

    def stalled():
        sock = _connect(hygiene_server.url)
        sock.sendall(STALLED)
        t0 = time.perf_counter()
        out["stalled"] = (_read_all(sock), time.perf_counter() - t0)

    def trickle():
        sock = _connect(hygiene_server.url)
        sock.sendall(STALLED)
        t0 = time.perf_counter()
        sock.settimeout(0.25)
        reply = b""
        for _ in range(200):  # 100 bytes every 0.25 s until the server answers (bounded: 50 s)
            try:
                sock.sendall(b"x" * 100)
                reply += sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if reply:
                break
        sock.settimeout(10)
        out["trickle"] = (reply + _read_all(sock), time.perf_counter() - t0)

    threads = [threading.Thread(target=f) for f in (stalled, trickle)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for name, (reply, seconds) in out.items():
        refusal = _json_refusal(reply, 408)
        assert "--min-body-rate" in refusal["error"] and GRACE_S - 0.5 <= seconds <= GRACE_S + 5, (name, seconds, refusal)


def test_with_every_reading_slot_held_by_stalled_uploads_a_good_compare_is_answered(hygiene_server, tiny_selector, synth_pairs):
    """--max-reading 2, both held by uploads that stopped: a good compare cuts the one furthest behind and is answered."""
    socks = [_connect(hygiene_server.url) for _ in range(2)]
    for s in socks:
        s.sendall(STALLED)
    t0 = time.perf_counter()
    while "c4u_reading 2.0" not in httpx.get(hygiene_server.url + "/metrics", timeout=5).text and time.perf_counter() - t0 < 5:
        time.sleep(0.02)
    p = synth_pairs[30]
    r = _good(hygiene_server.url, p)
    assert r.status_code == 200 and abs(r.json()["p_a"] - tiny_selector.compare(p.image_a, p.image_b, p.query, p.title).p_a) <= 1e-6, r.text
    assert time.perf_counter() - t0 < GRACE_S, "answered only once the grace was over"
    reasons = [_json_refusal(_read_all(s), 408)["error"] for s in socks]
    assert sum("--max-reading 2" in x for x in reasons) == 1, reasons


def test_idle_connections_beyond_the_cap_are_closed_longest_idle_first(hygiene_server, synth_pairs):
    """--max-connections 6: eight connections that send nothing; the two idle longest are closed at once, and a good
    compare (a ninth connection) closes the next."""
    socks = [_connect(hygiene_server.url) for _ in range(8)]
    time.sleep(0.3)
    r = _good(hygiene_server.url, synth_pairs[31])
    assert r.status_code == 200, r.text
    readable, _, _ = select.select(socks, [], [], 0.2)  # well inside the header deadline: only the dropped ones have ended
    closed = [s in readable and s.recv(1) == b"" for s in socks]
    for s in socks:
        s.close()
    assert closed == [True] * 3 + [False] * 5, closed


def test_beyond_the_cap_with_none_idle_a_new_connection_gets_503(serve_export, tmp_path, synth_pairs):
    """--max-connections 2, both held by uploads in progress: a third connection gets the JSON 503 with Retry-After."""
    srv = ServerProcess(serve_export, tmp_path / "serve.log", "--max-connections", "2", "--body-grace-s", "30", "--retry-after", "2")
    try:
        srv.wait_ready()
        time.sleep(0.2)  # the readiness probe's connection closed
        socks = [_connect(srv.url) for _ in range(2)]
        for s in socks:
            s.sendall(STALLED)
        time.sleep(0.3)
        r = httpx.get(srv.url + "/healthz", timeout=10)
        assert r.status_code == 503 and r.headers["retry-after"] == "2" and r.json()["request_id"] == r.headers["x-request-id"]
        assert r.json()["kind"] == "busy" and "--max-connections" in r.json()["error"]
        for s in socks:
            s.close()
        time.sleep(0.3)
        assert _good(srv.url, synth_pairs[32]).status_code == 200
    finally:
        srv.stop()
