"""``--engine local``: groups answered in this process, or by ``--workers`` processes on this machine; no Ray needed.

Each worker process loads one ``GroupScorer`` when it starts and takes batches of ``groups_per_batch``; a few
batches per worker are in flight at a time. A worker that dies (killed, out of memory) breaks the pool: the
batches it held go to a fresh pool (at most ``max_retries`` times each), and their ids are reported as retried.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from creative4u_small.batch.batch_config import BatchConfig
from creative4u_small.batch.group_scorer import GroupScorer
from creative4u_small.scale.ray_cluster import worker_identity

IN_FLIGHT_PER_WORKER = 2
_worker: dict = {}  # a worker process's GroupScorer, or the error that kept it from loading


def in_batches(groups: list[dict], size: int) -> list[list[dict]]:
    return [groups[i: i + size] for i in range(0, len(groups), size)]


def stamped(records: list[dict]) -> list[dict]:
    """Records with the identity of the process that produced them."""
    me = worker_identity()
    return [{**r, "worker": me} for r in records]


def run_local(config: BatchConfig, groups: list[dict], on_records) -> list[str]:
    """Answer ``groups``; ``on_records(records)`` in this thread per finished batch. Returns the ids retried."""
    batches = in_batches(groups, config.groups_per_batch)
    if not batches:
        return []
    if config.workers == 1:
        scorer = GroupScorer(config)
        for batch in batches:
            on_records(stamped(scorer.score(batch)))
        return []
    return _run_processes(config, batches, on_records)


def _start(config: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the driver, which stops the pool
    try:
        _worker["scorer"] = GroupScorer(BatchConfig.from_dict(config))
    except Exception as e:  # noqa: BLE001 - handed to the driver with the first batch, instead of a broken pool
        _worker["error"] = e


def _score(batch: list[dict]) -> list[dict]:
    if "error" in _worker:
        raise _worker["error"]
    return stamped(_worker["scorer"].score(batch))


def _run_processes(config: BatchConfig, batches: list[list[dict]], on_records) -> list[str]:
    pending = deque(enumerate(batches))
    sent: Counter = Counter()
    retried: set[str] = set()
    context = multiprocessing.get_context("spawn")  # no fork of a process whose ONNX Runtime threads are running
    while pending:
        pool = ProcessPoolExecutor(config.workers, mp_context=context, initializer=_start, initargs=(config.to_dict(),))
        inflight: dict = {}
        try:
            while pending or inflight:
                while pending and len(inflight) < IN_FLIGHT_PER_WORKER * config.workers:
                    future = pool.submit(_score, pending[0][1])  # a broken pool refuses it here: the batch stays pending
                    k, batch = pending.popleft()
                    sent[k] += 1
                    inflight[future] = (k, batch)
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()  # BrokenProcessPool when a worker died
                    inflight.pop(future)
                    on_records(result)
        except BrokenProcessPool:
            for k, batch in sorted(inflight.values(), key=lambda kb: kb[0], reverse=True):
                if sent[k] > config.max_retries:
                    raise RuntimeError(f"a worker died {sent[k]} times on the batch of {batch[0]['id']!r}; "
                                       "rows written so far are kept, rerun to continue") from None
                retried.update(g["id"] for g in batch)
                pending.appendleft((k, batch))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return sorted(retried)
