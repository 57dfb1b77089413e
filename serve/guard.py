"""ASGI middleware around every request: request id, body-size cap, last-resort 500, one JSON log line, metrics.

The body cap (per endpoint and content type) answers 413 from ``Content-Length`` before reading anything;
chunked bodies are counted as they arrive by the reader (serve/reading.py). An exception no handler took
becomes the documented JSON 500 with the request id here, inside Starlette's own error middleware, so it
never reaches uvicorn (which would drop the keep-alive connection); a request cancelled by the server's
shutdown (past ``--graceful-timeout``) is answered the JSON 503 here instead of uvicorn's plain-text 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid

log = logging.getLogger("creative4u_small.serve")

_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
ENDPOINTS = ("/v1/compare", "/v1/rank", "/v1/model", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and any ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname.lower(), "msg": record.getMessage()}
        out.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, default=str)


def request_id(given: str) -> str:
    """The client's ``X-Request-ID`` when it is a plain token of at most 64 characters, else a new id."""
    return given if _ID_OK.match(given) else uuid.uuid4().hex[:16]


def error_body(status: int, kind: str, reason: str, request_id: str) -> bytes:
    return json.dumps({"error": reason, "kind": kind, "status": status, "request_id": request_id}).encode()


class RequestGuard:
    """Pure ASGI middleware (no response buffering), outermost in the app."""

    def __init__(self, app, body_cap, metrics=None):
        self.app, self.body_cap, self.metrics = app, body_cap, metrics  # body_cap(path, content type) -> bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = request_id(headers.get("x-request-id", ""))
        scope.setdefault("state", {})["request_id"] = rid
        path = scope.get("path", "")
        endpoint = path if path in ENDPOINTS else "other"
        status = {"code": 500, "kind": ""}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            length, cap = headers.get("content-length"), self.body_cap(path, headers.get("content-type", "").split(";")[0].strip().lower())
            if length is not None and length.isdigit() and int(length) > cap:
                status["kind"] = "too_large"
                await self._refuse(send_wrapper, 413, "too_large", f"request body of {int(length):,} bytes is above the server's limit of {cap:,} for it; "
                                                                   "send smaller images or raise --max-body-mb", rid)
                return
            await self.app(scope, receive, send_wrapper)
        except asyncio.CancelledError:  # the server's shutdown gave up on this request: answered, not re-raised into uvicorn
            status["kind"] = "shutting_down"
            if not status.get("started"):
                await self._refuse(send_wrapper, 503, "shutting_down", "server shut down before this request was answered (past --graceful-timeout); "
                                                                       "send it again after the restart or to another replica", rid)
        except Exception as e:  # noqa: BLE001 - the last resort: one JSON 500, the connection kept
            status["kind"] = "internal"
            log.error("internal error", exc_info=e, extra={"fields": {"request_id": rid, "path": path}})
            if not status.get("started"):
                await self._refuse(send_wrapper, 500, "internal", f"internal error ({type(e).__name__}); see the server log for this request id", rid,
                                   close=False)
        finally:
            seconds = time.perf_counter() - t0
            if self.metrics is not None:
                self.metrics.requests.labels(endpoint, str(status["code"])).inc()
                self.metrics.latency.labels(endpoint).observe(seconds)
                kind = status["kind"] or scope["state"].get("log_fields", {}).get("kind")
                if kind:
                    self.metrics.errors.labels(kind).inc()
            fields = {"request_id": rid, "method": scope.get("method"), "path": path, "status": status["code"], "ms": round(seconds * 1000, 2)}
            fields.update(scope["state"].get("log_fields", {}))
            if path not in ("/healthz", "/readyz", "/metrics") or status["code"] >= 400:
                log.info("request", extra={"fields": fields})

    @staticmethod
    async def _refuse(send, status: int, kind: str, reason: str, rid: str, close: bool = True) -> None:
        body = error_body(status, kind, reason, rid)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers + ([(b"connection", b"close")] if close else [])})
        await send({"type": "http.response.body", "body": body})
