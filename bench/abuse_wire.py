"""Wire-level attacks of ``serve_abuse`` on a real `c4u serve` at 127.0.0.1: a JSON bomb, idle uploads and sockets
beyond the open-files limit, malformed HTTP, and SIGTERM with a slow upload open. Each phase is bounded in count
and seconds and returns its figures and a ``passed`` verdict against the service's goals."""

from __future__ import annotations

import io
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

STALLED_HEAD = (b"POST /v1/compare HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 100000\r\n\r\n--b\r\nContent-Di")
MALFORMED = {"request_line": b"GARBAGE\r\n\r\n", "header": b"GET /healthz HTTP/1.1\r\nHo st: x\r\n\r\n",
             "content_length": b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n",
             "chunk_size": b"POST /v1/compare HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             "partial_head": b"GET /heal"}


def empty_objects(mb: float) -> bytes:
    """``{"0":{},"1":{},...}`` of about ``mb`` MB."""
    buf, i = io.BytesIO(), 0
    buf.write(b"{")
    while buf.tell() < mb * 1e6:
        buf.write(b'"%d":{},' % i)
        i += 1
    buf.write(b'"end":{}}')
    return buf.getvalue()


def _connect(url: str, timeout: float = 30) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def _read_all(sock: socket.socket) -> bytes:
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except OSError:
        pass
    sock.close()
    return out


def json_refusal(reply: bytes, status: int | None = None) -> dict | None:
    """The error JSON of a raw reply when it is the documented one (JSON, request id in header and body); else None."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").lower().split("\r\n")
    try:
        headers = dict(line.split(": ", 1) for line in lines[1:])
        out = json.loads(body)
    except ValueError:
        return None
    ok = (set(out) == {"error", "kind", "status", "request_id"} and headers.get("content-type") == "application/json"
          and headers.get("x-request-id") == out["request_id"].lower() and lines[0].startswith(f"http/1.1 {out['status']}")
          and (status is None or out["status"] == status))
    return out if ok else None


def probe_healthz(url: str) -> None:
    """Run as its own process (so the attacking client's threads cannot delay it): GET /healthz every 5 ms until stdin
    closes (at most 10 minutes); prints the latencies and failures as one JSON line."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    latency, failed, t_end = [], 0, time.perf_counter() + 600
    with httpx.Client(timeout=10) as c:
        while not stop.is_set() and time.perf_counter() < t_end:
            t0 = time.perf_counter()
            try:
                failed += c.get(url + "/healthz").status_code != 200
            except httpx.HTTPError:
                failed += 1
            latency.append(time.perf_counter() - t0)
            time.sleep(0.005)
    print(json.dumps({"latency_s": latency, "failed": failed}))


class _Probe:
    """/healthz probed from another process, and the server's RSS and open files sampled here, until the block ends."""

    def __init__(self, server):
        import psutil

        self.server, self.proc, self.stop = server, psutil.Process(server.proc.pid), threading.Event()
        self.rss_mb, self.fds = [], []
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        for _ in range(1_000_000):
            if self.stop.is_set():
                return
            self.rss_mb.append(self.proc.memory_info().rss / 2**20)
            self.fds.append(self.proc.num_fds())
            time.sleep(0.005)

    def __enter__(self):
        self.cpu0 = sum(self.proc.cpu_times()[:2])
        self.child = subprocess.Popen([sys.executable, "-m", __name__, self.server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        time.sleep(0.3)
        self.cpu_s = sum(self.proc.cpu_times()[:2]) - self.cpu0
        self.stop.set()
        self.thread.join(30)
        out, _ = self.child.communicate(timeout=60)
        self.probed = json.loads(out.strip().splitlines()[-1])

    @property
    def failed(self) -> int:
        return self.probed["failed"]

    def figures(self) -> dict:
        lat = self.probed["latency_s"]
        return {"healthz_probes": len(lat), "healthz_failed": self.failed, "healthz_max_ms": round(max(lat) * 1000, 1),
                "healthz_p99_ms": round(sorted(lat)[int(0.99 * (len(lat) - 1))] * 1000, 1), "rss_peak_mb": round(max(self.rss_mb), 1),
                "open_files_peak": max(self.fds), "server_cpu_s": round(self.cpu_s, 3), "load_average_1m": round(os.getloadavg()[0], 2)}


def json_bomb_phase(server, auth: dict, mb: float = 31.0, repeats: int = 5) -> dict:
    """A body of empty objects to /v1/compare, ``repeats`` times: each answered 400 within 1 s, at most +150 MB RSS,
    /healthz within 100 ms throughout."""
    body = empty_objects(mb)
    before, answered, statuses = server.rss_mb(), [], set()
    with _Probe(server) as probe:
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = httpx.post(server.url + "/v1/compare", content=body, headers={**auth, "content-type": "application/json"}, timeout=60)
            answered.append(time.perf_counter() - t0)
            statuses.add(r.status_code)
    out = {"body_mb": round(len(body) / 1e6, 1), "bombs": repeats, "statuses": sorted(statuses), "answered_s_median": round(sorted(answered)[repeats // 2], 3),
           "answered_s_max": round(max(answered), 3), "rss_before_mb": round(before, 1), **probe.figures(),
           "error": r.json().get("error") if r.headers.get("content-type") == "application/json" else r.text[:200]}
    out["rss_peak_delta_mb"] = round(out["rss_peak_mb"] - before, 1)
    out["passed"] = statuses == {400} and max(answered) <= 1.0 and out["rss_peak_delta_mb"] <= 150 and out["healthz_max_ms"] <= 100 and not probe.failed
    return out


def json_large_phase(server, auth: dict, mib_per_image: float = 16.0) -> dict:
    """A well-formed JSON compare of two base64 blobs that together fill the multipart cap (not images: 422 after
    decoding): how long the decode, base64 included, holds /healthz up."""
    import base64

    blob = base64.b64encode(os.urandom(int(mib_per_image * 2**20) - 4096)).decode()
    body = json.dumps({"image_a": blob, "image_b": blob, "query": "q"}).encode()
    with _Probe(server) as probe:
        t0 = time.perf_counter()
        r = httpx.post(server.url + "/v1/compare", content=body, headers={**auth, "content-type": "application/json"}, timeout=60)
        answered_s = time.perf_counter() - t0
    out = {"body_mb": round(len(body) / 1e6, 1), "status": r.status_code, "answered_s": round(answered_s, 3), **probe.figures()}
    out["passed"] = r.status_code == 422 and r.json()["request_id"] == r.headers["x-request-id"] and not probe.failed
    return out


def idle_phase(server, token: str, good, uploads: int = 200, sockets: int = 1100, n_good: int = 16) -> dict:
    """``uploads`` stalled uploads (kept open: each one the server cuts is opened again) and ``sockets`` connections that
    send nothing, against a server limited to ``server.nofile`` open files; ``good()`` (one checked compare, returning
    its problem or None) must be answered right in under 1 s each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, uploads + sockets + 512)), hard))
    head = STALLED_HEAD % token.encode()
    stop, renewed, cut = threading.Event(), [0], {}

    def open_upload():
        s = _connect(server.url)
        s.sendall(head)
        return s

    ups = [open_upload() for _ in range(uploads)]

    def renew():  # the attack renewed: every upload the server ended is read and opened again, until stopped
        with selectors.DefaultSelector() as sel:
            for s in ups:
                sel.register(s, selectors.EVENT_READ)
            for _ in range(100_000):
                if stop.is_set():
                    return
                for key, _ in sel.select(0.05):
                    sel.unregister(key.fileobj)
                    refusal = json_refusal(_read_all(key.fileobj)) or {"kind": "not JSON"}
                    cut[refusal["kind"]] = cut.get(refusal["kind"], 0) + 1
                    ups[ups.index(key.fileobj)] = fresh = open_upload()
                    sel.register(fresh, selectors.EVENT_READ)
                    renewed[0] += 1

    idle = [_connect(server.url) for _ in range(sockets)]
    renewer = threading.Thread(target=renew, daemon=True)
    renewer.start()
    times, problems = [], []
    with _Probe(server) as probe:
        for _ in range(n_good):  # spread over more than one --body-grace-s, so uploads are cut and renewed meanwhile
            t0 = time.perf_counter()
            problem = good()
            times.append(time.perf_counter() - t0)
            problems += [problem] if problem else []
            time.sleep(0.5)
    stop.set()
    renewer.join(30)
    for s in ups + idle:
        s.close()
    out = {"idle_uploads": uploads, "idle_sockets": sockets, "server_open_files_limit": server.nofile, "good_answered_right": n_good - len(problems),
           "good_of": n_good, "good_max_s": round(max(times), 3), "good_median_s": round(sorted(times)[len(times) // 2], 3),
           "uploads_cut_and_renewed": renewed[0], "uploads_cut_by_kind": cut, **probe.figures(), "problems": problems[:5]}
    out["passed"] = not problems and max(times) < 1.0 and not probe.failed
    return out


def refusals_phase(server, repeats: int = 5) -> dict:
    """Malformed HTTP (request line, header, Content-Length, chunk size) and a head left unfinished: each answered
    with the documented JSON and a request id."""
    got, bad = {}, []
    for name, raw in MALFORMED.items():
        for _ in range(repeats):
            s = _connect(server.url)
            s.sendall(raw)
            reply = _read_all(s)
            refusal = json_refusal(reply, 408 if name == "partial_head" else 400)
            got[name] = got.get(name, 0) + (refusal is not None)
            if refusal is None:
                bad.append(f"{name}: {reply[:160]!r}")
    return {"answered_json_with_request_id": got, "of_each": repeats, "problems": bad[:5], "passed": not bad}


def shutdown_phase(server, token: str, good_request, clients: int = 8) -> dict:
    """SIGTERM while ``clients`` threads send good compares and one upload is stalled: the upload gets 503 at once, and
    the process exits within 2 s of the last answer it computed."""
    stalled = _connect(server.url)
    stalled.sendall(STALLED_HEAD % token.encode())
    answers, statuses, lock, stop = [], {}, threading.Lock(), threading.Event()

    def hammer(k: int):
        for n in range(100_000):
            if stop.is_set():
                return
            try:
                r = good_request(k + clients * n)
            except httpx.HTTPError:
                if stop.wait(0.01):
                    return
                continue
            with lock:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    answers.append(time.perf_counter())

    threads = [threading.Thread(target=hammer, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    t_signal = time.perf_counter()
    server.proc.send_signal(signal.SIGTERM)
    reply = _read_all(stalled)
    stalled_s = time.perf_counter() - t_signal
    server.proc.wait(60)
    t_exit = time.perf_counter()
    stop.set()
    for t in threads:
        t.join(30)
    refusal = json_refusal(reply, 503) or {}
    last = max(answers)
    out = {"stalled_upload_answer": refusal.get("kind", reply[:120].decode("latin-1")), "stalled_upload_answered_s": round(stalled_s, 3),
           "answers_200": len(answers), "answers_after_sigterm": sum(t > t_signal for t in answers), "statuses": {str(k): v for k, v in statuses.items()},
           "sigterm_to_exit_s": round(t_exit - t_signal, 3), "last_answer_to_exit_s": round(t_exit - last, 3)}
    out["passed"] = refusal.get("kind") == "shutting_down" and stalled_s < 1.0 and t_exit - last <= 2.0 and not any(s >= 500 and s != 503 for s in statuses)
    return out


if __name__ == "__main__":  # the /healthz prober's process: python -m creative4u_small.bench.abuse_wire URL
    probe_healthz(sys.argv[1])
