"""Admission and cross-request micro-batching: concurrent compares share one ``Selector.compare_many`` call.

A request holds a reading slot while its body arrives and its images decode (``readers``, serve/reading.py),
and takes a queue slot only once that is done (``admit``: at most ``max_queue`` admitted, beyond it 503),
so a slow or idle client holds no queue slot. One asyncio task takes what is queued — up to ``max_batch``
pairs — and runs it as one ``compare_many`` call on the single worker thread, so vision and judge batches
(and the Selector's embedding cache) are shared and the event loop never blocks; the Selector's own threads
use every core. A lone request never waits; while other compares are still being read, a batch waits at
most ``max_wait_ms`` for them, woken by an ``asyncio.Event`` whenever a compare is queued or a reader
leaves. Rank requests run on the same worker thread. If a batch call fails, its pairs are retried one by
one so one bad pair cannot fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from creative4u_small.serve.limits import RequestError
from creative4u_small.serve.reading import Readers


@dataclass
class _Item:
    pair: tuple  # (a, b, query, title)
    explain: bool
    future: asyncio.Future
    queued_at: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Queue accounting, the compare batch loop and the Selector's worker thread."""

    def __init__(self, selector, max_batch: int, max_wait_ms: float, max_queue: int, retry_after_s: int, readers: Readers | None = None, metrics=None):
        self.selector, self.max_batch, self.max_wait_s = selector, max_batch, max_wait_ms / 1000.0
        self.max_queue, self.retry_after_s, self.readers, self.metrics = max_queue, retry_after_s, readers, metrics
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="c4u-selector")
        self._queue: asyncio.Queue | None = None
        self._changed: asyncio.Event | None = None  # set when a compare is queued or a reader comes or goes
        self._task: asyncio.Task | None = None
        self._admitted = 0  # requests holding a queue slot (queued or running)
        self.batches = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._queue, self._changed = asyncio.Queue(), asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="c4u-batcher")

    async def close(self) -> None:
        """Finish what is queued, then stop the loop and the worker thread."""
        if self._task is not None:
            self._queue.put_nowait(None)
            self.wake()
            await self._task
            self._task = None
        await asyncio.get_running_loop().run_in_executor(None, self.executor.shutdown, True)

    async def run(self, fn, *args):
        """``fn(*args)`` on the worker thread (rank, warm-up)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # ------------------------------------------------------------ admission

    @property
    def depth(self) -> int:
        return self._admitted

    def wake(self) -> None:
        """A batch waiting for compares still being read looks again (a compare was queued or a reader came or went)."""
        if self._changed is not None:
            self._changed.set()

    @contextlib.contextmanager
    def admit(self):
        """Hold a queue slot until the request is answered; 503 + Retry-After when ``max_queue`` are held."""
        if self._admitted >= self.max_queue:
            raise RequestError(503, "overloaded", f"server busy: {self._admitted} requests queued or running (limit {self.max_queue}, --max-queue); "
                                                  f"retry after {self.retry_after_s} s", {"Retry-After": str(self.retry_after_s)})
        self._admitted += 1
        self._gauge()
        try:
            yield
        finally:
            self._admitted -= 1
            self._gauge()

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(self._admitted)

    async def compare(self, a, b, query: str, title: str, explain: bool):
        """Queue one pair and wait for its (CompareResult, queue seconds, pairs in its batch)."""
        fut = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item((a, b, query, title), explain, fut))
        self.wake()
        return await fut

    # ------------------------------------------------------------ the batch loop

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch, stopping = await self._gather(first, loop.time() + self.max_wait_s)
            for explain in (False, True):
                group = [it for it in batch if it.explain == explain]
                if group:
                    await self._run(group, explain)
            if stopping:
                return

    async def _gather(self, first: _Item, deadline: float) -> tuple[list[_Item], bool]:
        """``first`` and what else is queued (up to ``max_batch``), waiting until ``deadline`` only while compares are still being read."""
        loop, batch = asyncio.get_running_loop(), [first]
        while len(batch) < self.max_batch:
            self._changed.clear()  # cleared before looking, so a change after the look wakes the wait below
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if not self._reading_compares() or loop.time() >= deadline:
                    break
                with contextlib.suppress(asyncio.TimeoutError):  # Event.wait, unlike Queue.get, loses nothing when cancelled
                    await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
                continue
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _reading_compares(self) -> int:
        return self.readers.compares if self.readers is not None else 0

    async def _run(self, group: list[_Item], explain: bool) -> None:
        started = time.perf_counter()
        outcomes = await self.run(self._compare_many, [it.pair for it in group], explain)
        self.batches += 1
        if self.metrics is not None:
            self.metrics.batch_pairs.observe(len(group))
            self.metrics.images_encoded.set(self.selector.images_encoded)
        for it, outcome in zip(group, outcomes):
            if self.metrics is not None:
                self.metrics.stage.labels("queue").observe(started - it.queued_at)
            if it.future.done():  # the client went away
                continue
            if isinstance(outcome, BaseException):
                it.future.set_exception(outcome)
            else:
                it.future.set_result((outcome, started - it.queued_at, len(group)))

    def _compare_many(self, pairs: list[tuple], explain: bool) -> list:
        """Results (or the exception of each pair) of one batch; on failure, pair by pair."""
        try:
            results = self.selector.compare_many(pairs, explain=explain)
            if self.metrics is not None and results:
                self.metrics.observe_timings(results[0].timings_ms)
            return results
        except Exception as e:
            if len(pairs) == 1:
                return [e]
        out = []
        for pair in pairs:
            try:
                out.append(self.selector.compare_many([pair], explain=explain)[0])
            except Exception as e:
                out.append(e)
        return out
