"""The HTTP/1.1 connection: uvicorn's h11 protocol with a header deadline, a cap on open connections, and JSON refusals.

What uvicorn answers itself, before or outside the app, is answered here in the service's JSON with a request id:

- a malformed request (request line, header, Content-Length, chunk size): 400 ``bad_request``;
- a connection that sent part of a request head and not the rest within ``--header-timeout-s``, counted from
  accept and from the end of each answer: 408 ``timeout`` (one that sent nothing is closed without a word);
- a new connection beyond ``--max-connections`` while none is idle: 503 ``busy``. With one idle (waiting for a
  request head, between requests or before its first), the one idle longest is closed instead, as nginx
  reuses keep-alive connections when it runs out (``ngx_drain_connections``);
- on shutdown, the app is told first (``Wire.on_shutdown``: bodies still arriving are cut with 503), then
  uvicorn closes idle connections and lets requests being computed finish.

The app hands its settings and hooks over in its lifespan state (``WIRE_STATE``); uvicorn gives that state to
every connection. Uvicorn is told to use this class (``http=``), so httptools is never picked in its place.
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass, field
from typing import Callable

from uvicorn.protocols.http.h11_impl import H11Protocol

from creative4u_small.serve.guard import request_id as new_request_id
from creative4u_small.serve.reading import METER_STATE, BodyMeter

WIRE_STATE = "c4u_wire"
FD_RESERVE = 256  # open files kept free beside the connections: graphs, logs, spooled uploads, one accept burst
ACCEPT_BACKLOG = 128  # asyncio accepts up to this many connections at once before any is counted


@dataclass
class Wire:
    """What the protocol needs from the app: its limits and two hooks."""

    header_timeout_s: float = 10.0
    max_connections: int = 768
    retry_after_s: int = 1
    on_shutdown: Callable[[], None] = lambda: None
    on_refusal: Callable[[int, str, str, str], None] = lambda status, kind, request_id, reason: None  # metrics and log of the refusals here
    shut: bool = field(default=False, init=False)


def connection_limit(configured: int) -> int:
    """``configured``, or the open-files limit less ``FD_RESERVE`` when 0; ValueError when the limit leaves no room."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    room = soft - FD_RESERVE
    if configured > room or room < 8:
        raise ValueError(f"--max-connections {configured or 'default'}: the open-files limit is {soft} and {FD_RESERVE} of them stay free for the "
                         f"server's own files; raise it (ulimit -n) or set --max-connections to {max(room, 0)} or less")
    return configured or room


def refusal(status: int, kind: str, reason: str, request_id: str = "", retry_after: int | None = None) -> tuple[bytes, str]:
    """A whole HTTP/1.1 response carrying the service's error JSON, with the connection closed after it."""
    rid = request_id or new_request_id("")
    body = json.dumps({"error": reason, "kind": kind, "status": status, "request_id": rid}).encode()
    phrase = {400: "Bad Request", 408: "Request Timeout", 503: "Service Unavailable"}[status]
    head = [f"HTTP/1.1 {status} {phrase}", "content-type: application/json", f"content-length: {len(body)}", f"x-request-id: {rid}", "connection: close"]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body, rid


class ServeProtocol(H11Protocol):
    """uvicorn's ``H11Protocol`` with the deadline, the cap and the JSON refusals above."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wire: Wire = self.app_state.get(WIRE_STATE) or Wire()
        self._head_timer = None
        self.waiting_since: float | None = None  # when this connection began waiting for a request head
        self._head_bytes = 0

    # ------------------------------------------------------------ waiting for a request head

    def idle(self) -> bool:
        return self.waiting_since is not None and not self.transport.is_closing()

    def _track(self) -> None:
        """Start the head deadline when the connection waits for a request; stop it once a head is in."""
        waiting = (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing()
        if waiting and self.waiting_since is None:
            self.waiting_since, self._head_bytes = time.monotonic(), 0
            self._head_timer = self.loop.call_later(self.wire.header_timeout_s, self._head_late)
        elif not waiting and self.waiting_since is not None:
            self.waiting_since = None
            self._head_timer.cancel()

    def _head_late(self) -> None:
        if self.waiting_since is None or self.transport.is_closing():
            return
        if self._head_bytes == 0:  # nothing sent: no request to answer
            self.transport.close()
            return
        self._refuse(408, "timeout", f"request head not complete within {self.wire.header_timeout_s:g} s; send the request line and headers "
                                     "at once, or raise --header-timeout-s")

    # ------------------------------------------------------------ uvicorn's protocol, extended

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.wire.max_connections and not self._drop_longest_idle():
            self._refuse(503, "busy", f"server busy: {len(self.connections) - 1} connections open (limit {self.wire.max_connections}, "
                                      f"--max-connections) and none idle; retry after {self.wire.retry_after_s} s", retry_after=self.wire.retry_after_s)
            return
        self._track()

    def data_received(self, data: bytes) -> None:
        if self.waiting_since is not None:
            self._head_bytes += len(data)
        cycle = self.cycle
        super().data_received(data)
        self._count_body(len(data) if self.cycle is cycle else None)
        self._track()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is not cycle:  # a pipelined request began
            self._count_body(None)
        self._track()

    def _count_body(self, n: int | None) -> None:
        """Body bytes that reached this request (``n``; None: a new request, whose head brought ``cycle.body``), in the
        ``BodyMeter`` its reader paces (serve/reading.py)."""
        if self.cycle is None or self.cycle.response_complete or not self.scope:
            return
        meter = self.scope["state"].get(METER_STATE)
        if meter is None or n is None:
            length = dict(self.headers).get(b"content-length", b"")
            meter = self.scope["state"][METER_STATE] = BodyMeter(int(length) if length.isdigit() else None)
            n = len(self.cycle.body)
        meter.add(n)

    def connection_lost(self, exc) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 cannot parse, as the service's JSON (the request's id where it had one)."""
        in_flight = self.cycle is not None and not self.cycle.response_complete
        if in_flight and self.cycle.response_started:
            self.transport.close()
            return
        rid = ""
        if in_flight and self.scope:  # the guard's id, or the one the client sent when the app has not started yet
            rid = self.scope["state"].get("request_id") or new_request_id(dict(self.headers).get(b"x-request-id", b"").decode("latin-1"))
        self._refuse(400, "bad_request", "malformed HTTP/1.1 request (its request line, a header, Content-Length or a chunk size); send valid HTTP/1.1",
                     rid)

    def shutdown(self) -> None:
        if not self.wire.shut:  # the first connection told tells the app once
            self.wire.shut = True
            self.wire.on_shutdown()
        if self._head_timer is not None:
            self._head_timer.cancel()
        if not self.transport.is_closing():
            super().shutdown()

    # ------------------------------------------------------------ refusals written here

    def _drop_longest_idle(self) -> bool:
        idle = [c for c in self.connections if c is not self and isinstance(c, ServeProtocol) and c.idle()]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.waiting_since)
        oldest.waiting_since = None
        oldest._head_timer.cancel()
        oldest.transport.close()
        return True

    def _refuse(self, status: int, kind: str, reason: str, request_id: str = "", retry_after: int | None = None) -> None:
        response, rid = refusal(status, kind, reason, request_id, retry_after)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app's own answer, if any, is dropped: this one is on the wire
        self.waiting_since = None
        if self._head_timer is not None:
            self._head_timer.cancel()
        self.transport.write(response)
        self.transport.close()
        self.wire.on_refusal(status, kind, rid, reason)
