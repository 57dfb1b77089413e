"""Requests whose body is arriving: a slot each (``--max-reading``), a pace to keep, and a way to cut them.

A body must arrive within ``--body-timeout-s`` and, after ``--body-grace-s``, at ``--min-body-rate`` on average
(Apache's mod_reqtimeout ``MinRate``): its deadline is ``start + grace + received / rate``, so a slow or stalled
upload is answered 408 and its connection closed instead of holding a slot. When every slot is taken, the reader
furthest behind the rate with its grace waived is cut to make room for the new request (an idle upload owes the
most); with none behind, the new request gets 503. On shutdown every body still arriving is cut at once (503).
A slot stays held while the request's images decode, after its body is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.requests import ClientDisconnect, Request

from creative4u_small.serve.limits import RequestError

KIB = 1024


class Reader:
    """One request holding a reading slot: when it started, the body bytes received, whether they still arrive."""

    def __init__(self, compare: bool, loop: asyncio.AbstractEventLoop):
        self.compare, self.started, self.received, self.receiving = compare, time.monotonic(), 0, True
        self.cut: asyncio.Future = loop.create_future()  # set to the RequestError that ends the read
        self.held = True

    def owed(self, rate_bps: float, grace_s: float, now: float) -> float:
        """Bytes this body is behind ``rate_bps`` after ``grace_s`` (negative when ahead)."""
        return rate_bps * (now - self.started - grace_s) - self.received


class Readers:
    """The reading slots of one server, their pace and their cuts."""

    def __init__(self, limit: int, min_rate_kib: float, grace_s: float, timeout_s: float, retry_after_s: int, on_change=None, metrics=None):
        self.limit, self.rate, self.grace_s, self.timeout_s = limit, min_rate_kib * KIB, grace_s, timeout_s
        self.retry_after_s, self.on_change, self.metrics = retry_after_s, on_change, metrics
        self.active: list[Reader] = []
        self.closing: RequestError | None = None

    @property
    def count(self) -> int:
        return len(self.active)

    @property
    def compares(self) -> int:
        return sum(r.compare for r in self.active)

    @contextlib.contextmanager
    def slot(self, compare: bool):
        """Hold a slot while the body arrives and the images decode; cuts the reader furthest behind when all are taken."""
        if self.closing is not None:
            raise self.closing
        if len(self.active) >= self.limit and not self._make_room():
            raise RequestError(503, "busy", f"server busy: {len(self.active)} requests being received (limit {self.limit}, --max-reading); "
                                            f"retry after {self.retry_after_s} s", {"Retry-After": str(self.retry_after_s)})
        reader = Reader(compare, asyncio.get_running_loop())
        self.active.append(reader)
        self._changed()
        try:
            yield reader
        finally:
            self._release(reader)

    def _make_room(self) -> bool:
        now = time.monotonic()
        behind = [(r.owed(self.rate, 0.0, now), id(r), r) for r in self.active if r.receiving and not r.cut.done()]
        owed, _, victim = max(behind, default=(0.0, 0, None))
        if victim is None or owed <= 0:
            return False
        victim.cut.set_result(RequestError(408, "timeout", f"request body arriving below {self.rate / KIB:g} KiB/s ({victim.received:,} bytes in "
                                                           f"{now - victim.started:.1f} s) while every reading slot was taken (--max-reading "
                                                           f"{self.limit}); send the body at once", {"Connection": "close"}))
        self._release(victim)
        return True

    def cut_all(self, reason: str) -> None:
        """Shutdown: every body still arriving gets 503 at once; later requests are refused the same way."""
        self.closing = RequestError(503, "shutting_down", reason, {"Connection": "close", "Retry-After": str(self.retry_after_s)})
        for r in self.active:
            if r.receiving and not r.cut.done():
                r.cut.set_result(self.closing)

    def _release(self, reader: Reader) -> None:
        if reader.held:
            reader.held = False
            self.active.remove(reader)
            self._changed()

    def _changed(self) -> None:
        if self.metrics is not None:
            self.metrics.reading.set(len(self.active))
        if self.on_change is not None:
            self.on_change()

    # ------------------------------------------------------------ the body itself

    def deadline(self, reader: Reader) -> float:
        """When ``reader``'s body is late: its pace deadline, never past ``--body-timeout-s``."""
        return reader.started + min(self.timeout_s, self.grace_s + reader.received / self.rate)

    def late(self, reader: Reader) -> RequestError:
        elapsed = time.monotonic() - reader.started
        if elapsed >= self.timeout_s:
            reason = f"request body not received within {self.timeout_s:g} s; send it at once, or raise --body-timeout-s"
        else:
            reason = (f"request body arriving below {self.rate / KIB:g} KiB/s after {self.grace_s:g} s ({reader.received:,} bytes in {elapsed:.1f} s); "
                      "send it at once, or lower --min-body-rate")
        return RequestError(408, "timeout", reason, {"Connection": "close"})

    async def receive(self, request: Request, reader: Reader, cap: int) -> bytearray:
        """The whole body, at most ``cap`` bytes (413 beyond), within its deadline (408), unless cut (408 or 503)."""
        body = bytearray()

        async def collect():
            async for chunk in request.stream():
                body.extend(chunk)
                reader.received = len(body)
                if len(body) > cap:
                    raise RequestError(413, "too_large", f"request body above the server's limit of {cap:,} bytes; send smaller images or raise --max-body-mb",
                                       {"Connection": "close"})

        task = asyncio.ensure_future(collect())
        try:
            while not task.done():
                wait = self.deadline(reader) - time.monotonic()
                if wait <= 0:
                    raise self.late(reader)
                await asyncio.wait((task, reader.cut), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if reader.cut.done():
                    raise reader.cut.result()
            try:
                task.result()
            except ClientDisconnect:
                raise RequestError(400, "disconnected", "the client closed the connection before its body arrived") from None
            return body
        finally:
            reader.receiving = False
            task.cancel()
