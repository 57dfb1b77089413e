"""Concurrent compares from 16 client threads are micro-batched and equal serial in-process results."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from creative4u_small.client import SelectorClient

from conftest import TOKEN

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
