"""Concurrent compares from 16 client threads are micro-batched and equal serial in-process results."""

from __future__ import annotations

import signal
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


def _batches(url: str) -> dict[str, float]:
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text
    return {mode: sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(f'c4u_batches_total{{mode="{mode}"}}'))
            for mode in ("lane", "wide")}


def test_two_lanes_answer_as_serial_calls_and_stop_cleanly(serve_export, tiny_selector, synth_pairs, tmp_path):
    """--lanes 2: a crowd runs on both lanes side by side, a lone request on both lanes' threads (wide);
    answers unchanged either way, SIGTERM exits 0."""
    from conftest import ServerProcess

    work = synth_pairs[36:60]
    assert len(work) == 24
    serial = [tiny_selector.compare(p.image_a, p.image_b, p.query, p.title) for p in work]
    srv = ServerProcess(serve_export, tmp_path / "lanes.log", "--lanes", "2", "--max-batch", "2", "--max-wait-ms", "5")
    try:
        srv.wait_ready()

        def one(k):
            with SelectorClient(srv.url, timeout=60) as c:
                return [(i, c.compare(work[i].image_a, work[i].image_b, work[i].query, work[i].title)) for i in range(k, len(work), 8)]

        with ThreadPoolExecutor(8) as pool:
            got = dict(r for chunk in pool.map(one, range(8)) for r in chunk)
        crowd = _batches(srv.url)
        lone = synth_pairs[35]
        with SelectorClient(srv.url, timeout=60) as c:
            alone = c.compare(lone.image_a, lone.image_b, lone.query, lone.title)
        after = _batches(srv.url)
    finally:
        rc = srv.stop()
    assert rc in (0, -signal.SIGTERM), srv.log_path.read_text()[-2000:]  # uvicorn re-raises the signal once shut down
    assert sorted(got) == list(range(len(work)))
    for i, want in enumerate(serial):
        assert got[i]["winner"] == want.winner and abs(got[i]["p_a"] - want.p_a) <= TOL, (i, got[i]["p_a"], want.p_a)
    assert crowd["lane"] >= 2, crowd
    assert after["wide"] == crowd["wide"] + 1 and after["lane"] == crowd["lane"], (crowd, after)
    assert abs(alone["p_a"] - tiny_selector.compare(lone.image_a, lone.image_b, lone.query, lone.title).p_a) <= TOL
