"""Admission and cross-request micro-batching: concurrent compares share one ``Selector.compare_many`` call.

A request is counted as *reading* while its body arrives and its images decode (``reading``: at most
``max_reading`` at once, beyond it 503), and takes a queue slot only once that is done (``admit``: at most
``max_queue`` admitted, beyond it 503), so a slow or idle client holds no slot. One asyncio task takes
what is queued — up to ``max_batch`` pairs — and runs it as one ``compare_many`` call on the single
worker thread, so vision and judge batches (and the Selector's embedding cache) are shared and the event
loop never blocks; the Selector's own threads use every core. A lone request never waits; while other
compares are still being read, a batch waits at most ``max_wait_ms`` for them. Rank requests run on the
same worker thread. If a batch call fails, its pairs are retried one by one so one bad pair cannot fail
the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from creative4u_small.serve.limits import RequestError

_POLL_S = 0.0005


@dataclass
class _Item:
    pair: tuple  # (a, b, query, title)
    explain: bool
    future: asyncio.Future
    queued_at: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Reading and queue accounting, the compare batch loop and the Selector's worker thread."""

    def __init__(self, selector, max_batch: int, max_wait_ms: float, max_queue: int, max_reading: int, retry_after_s: int, metrics=None):
        self.selector, self.max_batch, self.max_wait_s = selector, max_batch, max_wait_ms / 1000.0
        self.max_queue, self.max_reading, self.retry_after_s, self.metrics = max_queue, max_reading, retry_after_s, metrics
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="c4u-selector")
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._admitted = 0  # requests holding a queue slot (queued or running)
        self._reading = 0  # requests whose body or images are still arriving or decoding
        self._reading_compares = 0  # of those, compares (a batch may wait for them)
        self.batches = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="c4u-batcher")

    async def close(self) -> None:
        """Finish what is queued, then stop the loop and the worker thread."""
        if self._task is not None:
            await self._queue.put(None)
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

    def _busy(self, what: str, n: int, limit: int, flag: str) -> RequestError:
        return RequestError(503, "overloaded" if flag == "--max-queue" else "busy",
                            f"server busy: {n} requests {what} (limit {limit}, {flag}); retry after {self.retry_after_s} s",
                            {"Retry-After": str(self.retry_after_s)})

    @contextlib.contextmanager
    def reading(self, compare: bool):
        """Count a request while its body arrives and its images decode; 503 beyond ``max_reading``."""
        if self._reading >= self.max_reading:
            raise self._busy("being received", self._reading, self.max_reading, "--max-reading")
        self._reading += 1
        self._reading_compares += compare
        self._gauge()
        try:
            yield
        finally:
            self._reading -= 1
            self._reading_compares -= compare
            self._gauge()

    @contextlib.contextmanager
    def admit(self):
        """Hold a queue slot until the request is answered; 503 + Retry-After when ``max_queue`` are held."""
        if self._admitted >= self.max_queue:
            raise self._busy("queued or running", self._admitted, self.max_queue, "--max-queue")
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
            self.metrics.reading.set(self._reading)

    async def compare(self, a, b, query: str, title: str, explain: bool):
        """Queue one pair and wait for its (CompareResult, queue seconds, pairs in its batch)."""
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item((a, b, query, title), explain, fut))
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
        """``first`` and what else is queued (up to ``max_batch``), waiting until ``deadline`` only for compares still being read."""
        loop, batch = asyncio.get_running_loop(), [first]
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if self._reading_compares == 0 or loop.time() >= deadline:
                    break
                # short sleeps, not wait_for(queue.get()): a cancelled get can drop an item
                await asyncio.sleep(min(_POLL_S, max(deadline - loop.time(), 0.0)))
                continue
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

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
