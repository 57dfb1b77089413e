"""Requests whose body is arriving: a slot each (``--max-reading``), a pace to keep, and a way to cut them.

A body must arrive within ``--body-timeout-s`` and, after ``--body-grace-s``, at ``--min-body-rate`` on average
(Apache's mod_reqtimeout ``MinRate``): its deadline is ``start + grace + arrived / rate``, so a slow or stalled
upload is answered 408 and its connection closed instead of holding a slot. Bytes count when they reach the
connection (``BodyMeter``, kept by serve/protocol.py), not when the app reads them.

When every slot is taken, a new request waits, within its grace, for one: it takes a slot as soon as one is
let go, or, once its own body is arriving at the rate (all of it, or ``rate x 0.25 s``), it takes the slot of
the reader furthest behind the rate with its grace waived (that reader gets 408). A stalled upload never cuts
another, so stalled uploads cannot push each other out in a loop, and a request whose body is there is served at
once however many stalled uploads hold the slots. A request still waiting when its grace ends gets 408 if its
body is behind the rate, else 503. On shutdown every body still arriving is cut at once (503). A slot stays held
while the request's images decode, after its body is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.requests import ClientDisconnect, Request

from creative4u_small.serve.limits import RequestError

KIB = 1024
PROBE_S = 0.25  # how long a waiting request's body is watched before it may count as arriving at the rate
METER_STATE = "c4u_body_meter"  # where the connection leaves a request's BodyMeter in its scope state


class BodyMeter:
    """Body bytes of one request that reached the server, and an event set whenever more arrive."""

    def __init__(self, length: int | None = None):
        self.arrived, self.length, self.changed = 0, length, None

    def add(self, n: int) -> None:
        self.arrived += n
        if self.changed is not None:
            self.changed.set()


class Reader:
    """One request holding (or waiting for) a reading slot: when it started, its body bytes, whether they still arrive."""

    def __init__(self, compare: bool, meter: BodyMeter | None, loop: asyncio.AbstractEventLoop):
        self.compare, self.started, self.received, self.receiving = compare, time.monotonic(), 0, True
        self.meter = meter or BodyMeter()
        self.cut: asyncio.Future = loop.create_future()  # set to the RequestError that ends the read
        self.held = False

    @property
    def arrived(self) -> int:
        return max(self.received, self.meter.arrived)

    def owed(self, rate_bps: float, grace_s: float, now: float) -> float:
        """Bytes this body is behind ``rate_bps`` after ``grace_s`` (negative when ahead)."""
        return rate_bps * (now - self.started - grace_s) - self.arrived

    def at_rate(self, rate_bps: float, now: float) -> bool:
        """Its whole body is in, or it has arrived at ``rate_bps`` over at least ``PROBE_S``."""
        whole = self.meter.length is not None and self.arrived >= self.meter.length
        return whole or self.arrived >= rate_bps * max(now - self.started, PROBE_S)


class Readers:
    """The reading slots of one server, their pace and their cuts."""

    def __init__(self, limit: int, min_rate_kib: float, grace_s: float, timeout_s: float, retry_after_s: int, on_change=None, metrics=None):
        self.limit, self.rate, self.grace_s, self.timeout_s = limit, min_rate_kib * KIB, grace_s, timeout_s
        self.retry_after_s, self.on_change, self.metrics = retry_after_s, on_change, metrics
        self.active: list[Reader] = []
        self.waiting: list[Reader] = []
        self.closing: RequestError | None = None
        self._freed: asyncio.Event | None = None

    @property
    def count(self) -> int:
        return len(self.active)

    @property
    def compares(self) -> int:
        return sum(r.compare for r in self.active + self.waiting)

    @contextlib.asynccontextmanager
    async def slot(self, compare: bool, meter: BodyMeter | None = None):
        """Hold a slot while the body arrives and the images decode (waiting for one first when all are taken)."""
        if self.closing is not None:
            raise self.closing
        reader = Reader(compare, meter, asyncio.get_running_loop())
        if len(self.active) >= self.limit:
            await self._wait_for_room(reader)
        reader.held = True
        self.active.append(reader)
        self._changed()
        try:
            yield reader
        finally:
            self._release(reader)

    async def _wait_for_room(self, reader: Reader) -> None:
        if self._freed is None:
            self._freed = asyncio.Event()
        reader.meter.changed = asyncio.Event()
        self.waiting.append(reader)
        self._changed()
        try:
            while len(self.active) >= self.limit:
                now = time.monotonic()
                if reader.at_rate(self.rate, now) and self._make_room(now):
                    return
                left = reader.started + self.grace_s - now
                if left <= 0:
                    raise self.late(reader) if not reader.at_rate(self.rate, now) else RequestError(
                        503, "busy", f"server busy: {len(self.active)} requests being received (limit {self.limit}, --max-reading); "
                                     f"retry after {self.retry_after_s} s", {"Retry-After": str(self.retry_after_s), "Connection": "close"})
                probe = reader.started + PROBE_S - now
                self._freed.clear()
                reader.meter.changed.clear()
                waits = [asyncio.ensure_future(e.wait()) for e in (self._freed, reader.meter.changed)]
                try:
                    await asyncio.wait([*waits, reader.cut], timeout=min(left, probe) if probe > 0 else left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
                if reader.cut.done():
                    raise reader.cut.result()
        finally:
            self.waiting.remove(reader)
            reader.meter.changed = None
            self._changed()

    def _make_room(self, now: float) -> bool:
        """Cut the reader furthest behind the rate (grace waived), if one is behind."""
        behind = [(r.owed(self.rate, 0.0, now), id(r), r) for r in self.active if r.receiving and not r.cut.done()]
        owed, _, victim = max(behind, default=(0.0, 0, None))
        if victim is None or owed <= 0:
            return False
        victim.cut.set_result(RequestError(408, "timeout", f"request body arriving below {self.rate / KIB:g} KiB/s ({victim.arrived:,} bytes in "
                                                           f"{now - victim.started:.1f} s) while every reading slot was taken (--max-reading "
                                                           f"{self.limit}); send the body at once", {"Connection": "close"}))
        self._release(victim)
        return True

    def cut_all(self, reason: str) -> None:
        """Shutdown: every body still arriving gets 503 at once; later requests are refused the same way."""
        self.closing = RequestError(503, "shutting_down", reason, {"Connection": "close", "Retry-After": str(self.retry_after_s)})
        for r in self.active + self.waiting:
            if r.receiving and not r.cut.done():
                r.cut.set_result(self.closing)

    def _release(self, reader: Reader) -> None:
        if reader.held:
            reader.held = False
            self.active.remove(reader)
            self._changed()
            if self._freed is not None:
                self._freed.set()

    def _changed(self) -> None:
        if self.metrics is not None:
            self.metrics.reading.set(len(self.active))
        if self.on_change is not None:
            self.on_change()

    # ------------------------------------------------------------ the body itself

    def deadline(self, reader: Reader) -> float:
        """When ``reader``'s body is late: its pace deadline, never past ``--body-timeout-s``."""
        return reader.started + min(self.timeout_s, self.grace_s + reader.arrived / self.rate)

    def late(self, reader: Reader) -> RequestError:
        elapsed = time.monotonic() - reader.started
        if elapsed >= self.timeout_s:
            reason = f"request body not received within {self.timeout_s:g} s; send it at once, or raise --body-timeout-s"
        else:
            reason = (f"request body arriving below {self.rate / KIB:g} KiB/s after {self.grace_s:g} s ({reader.arrived:,} bytes in {elapsed:.1f} s); "
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
