"""A Python client for ``c4u serve`` on httpx: compare, rank, model, health, readiness, metrics.

``SelectorClient("http://127.0.0.1:8080", api_key=...)``; images are file paths, bytes or PIL images
and travel in the request body (multipart). A refusal raises ``ServeError`` with the server's
status, kind and one-line reason.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx


class ServeError(RuntimeError):
    """An HTTP error answer: ``status``, ``kind`` (bad_image, too_large, unauthorized, overloaded, ...), ``reason``."""

    def __init__(self, status: int, kind: str, reason: str, request_id: str = "", retry_after: float | None = None):
        super().__init__(f"HTTP {status} {kind}: {reason}")
        self.status, self.kind, self.reason, self.request_id, self.retry_after = status, kind, reason, request_id, retry_after


def _payload(src, default_name: str) -> tuple[str, bytes]:
    """(filename, bytes) of a path, bytes or PIL image (PIL images are sent as PNG)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return default_name, bytes(src)
    if isinstance(src, (str, Path)):
        path = Path(src)
        return path.name, path.read_bytes()
    if hasattr(src, "save"):
        buf = io.BytesIO()
        src.save(buf, format="PNG")
        return f"{default_name}.png", buf.getvalue()
    raise TypeError(f"{default_name}: expected a path, bytes or a PIL image, got {type(src).__name__}")


class SelectorClient:
    """One httpx connection pool to a selector server; thread-safe, use as a context manager."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0, transport=None):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> "SelectorClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def _check(r: httpx.Response) -> httpx.Response:
        if r.status_code < 400:
            return r
        try:
            body = r.json()
            kind, reason = body.get("kind", "error"), body.get("error", r.text)
        except ValueError:
            kind, reason = "error", r.text.strip().splitlines()[0] if r.text.strip() else r.reason_phrase
        retry = r.headers.get("retry-after")
        raise ServeError(r.status_code, kind, reason, r.headers.get("x-request-id", ""), float(retry) if retry else None)

    def compare(self, a, b, query: str = "", title: str = "", explain: bool = False, request_id: str | None = None) -> dict:
        """The CompareResult fields (winner, p_a, p_a_orders, consistent, rationale, timings_ms) plus server info."""
        files = [("image_a", _payload(a, "image_a")), ("image_b", _payload(b, "image_b"))]
        data = {"query": query, "title": title, "explain": "true" if explain else "false"}
        headers = {"X-Request-ID": request_id} if request_id else None
        return self._check(self.http.post("/v1/compare", files=files, data=data, headers=headers)).json()

    def rank(self, images: list, query: str = "", title: str = "", top_k: int | None = None) -> dict:
        """Order (indices, best first), Bradley–Terry scores per index, comparisons, names."""
        files = [("images", _payload(src, f"image{i}")) for i, src in enumerate(images)]
        data = {"query": query, "title": title}
        if top_k is not None:
            data["top_k"] = str(top_k)
        return self._check(self.http.post("/v1/rank", files=files, data=data)).json()

    def model(self) -> dict:
        return self._check(self.http.get("/v1/model")).json()

    def healthy(self) -> bool:
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def ready(self) -> bool:
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def metrics(self) -> str:
        return self._check(self.http.get("/metrics")).text

    def wait_ready(self, timeout: float = 60.0, interval: float = 0.05) -> float:
        """Seconds until /readyz answers 200; TimeoutError after ``timeout``."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.ready():
                return time.perf_counter() - t0
            time.sleep(interval)
        raise TimeoutError(f"{self.http.base_url}: not ready after {timeout:.0f} s")
