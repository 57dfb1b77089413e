"""Concurrent compares from 16 client threads are micro-batched and equal serial in-process results."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import TOKEN

from creative4u_small.serve.client import SelectorClient

TOL = 1e-6


def test_16_threads_equal_serial_results(server, tiny_selector, synth_pairs):
    # pairs the server has not seen, so its vision encoder (not its embedding cache) runs in shared batches
    work = synth_pairs[20:52]
    serial = [tiny_selector.compare(p.image_a, p.image_b, p.query, p.title) for p in work]

    start = threading.Barrier(16)

    def one(k):
        with SelectorClient(server.url, api_key=TOKEN, timeout=60) as c:
            start.wait(30)
            return [c.compare(work[i].image_a, work[i].image_b, work[i].query, work[i].title) for i in range(k, len(work), 16)]

    with ThreadPoolExecutor(16) as pool:
        chunks = list(pool.map(one, range(16)))
    got = {i: r for k, chunk in enumerate(chunks) for i, r in zip(range(k, len(work), 16), chunk)}
    assert len(got) == len(work)
    for i, want in enumerate(serial):
        assert got[i]["winner"] == want.winner
        assert abs(got[i]["p_a"] - want.p_a) <= TOL, (i, got[i]["p_a"], want.p_a)
    assert max(r["server"]["batch_pairs"] for r in got.values()) > 1, "no request shared a batch"


def test_two_workers_are_two_processes_answering_as_serial_calls(serve_export, tiny_selector, synth_pairs, tmp_path):
    """--workers 2: two processes on one port, each with its own Selector; answers equal serial in-process ones;
    SIGTERM stops both."""
    from conftest import ServerProcess

    work = synth_pairs[36:52]
    serial = [tiny_selector.compare(p.image_a, p.image_b, p.query, p.title) for p in work]
    srv = ServerProcess(serve_export, tmp_path / "workers.log", "--workers", "2", "--max-batch", "4")
    try:
        srv.wait_ready()
        ready = set()  # a worker counts once /readyz said 200 on its own connection; the other may still be warming up
        t0 = time.perf_counter()
        while len(ready) < 2 and time.perf_counter() - t0 < 90:  # a new connection each time goes to whichever worker accepts first
            with SelectorClient(srv.url, timeout=60) as c:
                if c.ready():
                    ready.add(c.model()["serve"]["pid"])
            time.sleep(0.05)
        assert len(ready) == 2 and srv.proc.pid not in ready, ready

        def one(k):
            with SelectorClient(srv.url, timeout=60) as c:
                return [(i, c.compare(work[i].image_a, work[i].image_b, work[i].query, work[i].title)) for i in range(k, len(work), 4)]

        with ThreadPoolExecutor(4) as pool:
            got = dict(pair for chunk in pool.map(one, range(4)) for pair in chunk)
        assert len(got) == len(work)
        for i, want in enumerate(serial):
            assert got[i]["winner"] == want.winner and abs(got[i]["p_a"] - want.p_a) <= TOL
    finally:
        code = srv.stop()
    assert code in (0, -signal.SIGTERM), srv.log()[-2000:]
