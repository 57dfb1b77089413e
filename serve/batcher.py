"""Cross-request micro-batching: concurrent compares share one ``Selector.compare_many`` call.

Requests are admitted (up to ``max_queue``; beyond it 503 with Retry-After), read and decoded,
then queued. One asyncio task takes what is queued — up to ``max_batch`` pairs — and runs it as one
``compare_many`` call on a worker thread, so vision and judge batches (and the Selector's
embedding cache) are shared and the event loop never blocks. A lone request never waits; when
other admitted requests are still being received, the batch waits at most ``max_wait_ms`` for them.
``lanes`` batches run at once, each on its own worker thread (the Selector is thread-safe); while
every lane is busy, new requests pile up and form the next batch. With ``wide_threads``, a batch
that would run alone (nothing else queued, arriving or running) takes every lane and runs on
sessions with that many intra-op threads, so a lone request is as fast as with one lane and a
crowd still runs side by side. Rank requests take a lane too. If a batch call fails, its pairs are
retried one by one so one bad pair cannot fail the others.
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
    """Admission control, the compare batch loop and the Selector's worker threads (one per lane)."""

    def __init__(self, selector, max_batch: int, max_wait_ms: float, max_queue: int, retry_after_s: int, metrics=None,
                 lanes: int = 1, wide_threads: int = 0):
        self.selector, self.max_batch, self.max_wait_s, self.max_queue = selector, max_batch, max_wait_ms / 1000.0, max_queue
        self.retry_after_s, self.metrics, self.lanes = retry_after_s, metrics, lanes
        self.wide_threads = wide_threads if lanes > 1 else 0
        self.executor = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="c4u-selector")
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._lanes_changed: asyncio.Condition | None = None
        self._free = lanes
        self._running: set[asyncio.Task] = set()
        self._admitted = 0  # compare and rank requests admitted and not yet answered
        self._receiving = 0  # compare requests admitted but not yet queued (body still arriving or decoding)
        self.batches = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._lanes_changed = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="c4u-batcher")

    async def close(self) -> None:
        """Finish what is queued, then stop the loop and the worker thread."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        await asyncio.get_running_loop().run_in_executor(None, self.executor.shutdown, True)

    async def warm_up(self, images) -> None:
        """One compare on each set of sessions a batch may use (``images(shade)`` gives fresh pairs), so no request opens one."""
        for shade, threads in enumerate(sorted({0, self.wide_threads})):
            a, b = images(shade)
            await self.run(self._compare_at, threads, a, b, lanes=self.lanes if threads else 1)

    def _compare_at(self, threads: int, a, b):
        with self._sessions(threads):
            return self.selector.compare(a, b, "warm-up", "warm-up")

    def _sessions(self, threads: int):
        """The Selector's sessions with ``threads`` intra-op threads for this thread's calls (0: its own)."""
        return self.selector.using_threads(threads) if threads else contextlib.nullcontext()

    async def run(self, fn, *args, lanes: int = 1):
        """``fn(*args)`` on a worker thread once ``lanes`` lanes are free (rank, warm-up); they stay taken until it returns."""
        await self._take(lanes)
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            await self._give(lanes)

    async def _take(self, lanes: int) -> None:
        async with self._lanes_changed:
            await self._lanes_changed.wait_for(lambda: self._free >= lanes)
            self._free -= lanes

    async def _give(self, lanes: int) -> None:
        async with self._lanes_changed:
            self._free += lanes
            self._lanes_changed.notify_all()

    # ------------------------------------------------------------ admission

    @property
    def depth(self) -> int:
        return self._admitted

    @contextlib.contextmanager
    def admit(self, compare: bool):
        """Hold a place for one request until it is answered; 503 + Retry-After when ``max_queue`` are held."""
        if self._admitted >= self.max_queue:
            raise RequestError(503, "overloaded", f"server busy: {self._admitted} requests queued or running (limit {self.max_queue}); retry after {self.retry_after_s} s",
                               {"Retry-After": str(self.retry_after_s)})
        self._admitted += 1
        self._receiving += compare
        self._gauge()
        ticket = {"receiving": compare}
        try:
            yield ticket
        finally:
            if ticket["receiving"]:
                self._receiving -= 1
            self._admitted -= 1
            self._gauge()

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(self._admitted)

    async def compare(self, ticket: dict, a, b, query: str, title: str, explain: bool):
        """Queue one pair and wait for its (CompareResult, queue seconds, pairs in its batch)."""
        fut = asyncio.get_running_loop().create_future()
        if ticket["receiving"]:
            ticket["receiving"] = False
            self._receiving -= 1
        await self._queue.put(_Item((a, b, query, title), explain, fut))
        return await fut

    # ------------------------------------------------------------ the batch loop

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            await self._take(1)
            batch = [first]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    if self._receiving == 0 or loop.time() >= deadline:
                        break
                    # short sleeps, not wait_for(queue.get()): a cancelled get can drop an item
                    await asyncio.sleep(min(_POLL_S, max(deadline - loop.time(), 0.0)))
                    continue
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            alone = self.wide_threads and self._free == self.lanes - 1 and self._queue.empty() and self._receiving == 0
            if alone:
                self._free -= self.lanes - 1
            task = loop.create_task(self._run_batch(batch, self.lanes if alone else 1, self.wide_threads if alone else 0))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if self._running:
            await asyncio.gather(*self._running)

    async def _run_batch(self, batch: list[_Item], lanes: int, threads: int) -> None:
        """Run ``batch`` on ``lanes`` lanes (``threads`` intra-op threads; 0 = the Selector's own), then free them."""
        try:
            for explain in (False, True):
                group = [it for it in batch if it.explain == explain]
                if group:
                    await self._run(group, explain, threads)
        finally:
            await self._give(lanes)

    async def _run(self, group: list[_Item], explain: bool, threads: int) -> None:
        started = time.perf_counter()
        outcomes = await asyncio.get_running_loop().run_in_executor(self.executor, self._compare_many, [it.pair for it in group], explain, threads)
        self.batches += 1
        if self.metrics is not None:
            self.metrics.batches.labels("wide" if threads else "lane").inc()
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

    def _compare_many(self, pairs: list[tuple], explain: bool, threads: int) -> list:
        """Results (or the exception of each pair) of one batch; on failure, pair by pair."""
        with self._sessions(threads):
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
