"""Refusals, and the image limits checked before any pixel is decoded.

Every refusal is a ``RequestError`` with an HTTP status, a kind (the metrics label) and a one-line
reason naming the field and the fix. Images come only from the request body, as bytes.
"""

from __future__ import annotations

import math

from creative4u_small.contract.images import ImageError, image_size

MAX_NAME_CHARS = 200
_ESCAPED = 6  # the most bytes one character of text takes in JSON (\uXXXX)
_PER_IMAGE = 96  # quotes, comma and a data: URL prefix around one base64 image


class RequestError(Exception):
    """A request the server refuses: ``status`` (4xx/503), ``kind`` (metrics label), one-line ``reason``."""

    def __init__(self, status: int, kind: str, reason: str, headers: dict | None = None):
        super().__init__(reason)
        self.status, self.kind, self.reason, self.headers = status, kind, reason.splitlines()[0] if reason else kind, headers or {}


def bad_image(field: str, error: Exception) -> RequestError:
    """422 naming ``field`` for an image the runtime could not use (``ImageError`` names ``<bytes>``, not the field)."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if reason.startswith("<"):
        reason = reason.split(": ", 1)[-1]
    return RequestError(422, "bad_image", f"{field}: {reason}")


def check_pixels(images: list[tuple[str, bytes]], max_pixels: int, max_request_pixels: int) -> int:
    """Pixels the request's images will decode to, read from their headers: each within ``--max-pixels`` (422), the sum
    within ``--max-request-pixels`` (413). Nothing is decoded here."""
    total = 0
    for field, data in images:
        if not data:
            raise RequestError(422, "bad_image", f"{field}: empty file; send the image's bytes")
        try:
            w, h = image_size(data, max_pixels, "--max-pixels")
        except ImageError as e:
            raise bad_image(field, e) from None
        total += w * h
    if max_request_pixels and total > max_request_pixels:
        raise RequestError(413, "too_large", f"images: {total:,} pixels in all, above the server's budget of {max_request_pixels:,} per request; "
                                             "send fewer or smaller images, or raise --max-request-pixels")
    return total


def body_cap(cfg, path: str, content_type: str) -> int:
    """The largest body ``path`` takes in ``content_type``: ``--max-body-mb`` for multipart; for JSON, the same images as
    base64 (4/3 of it) plus room for what the endpoint's fields can hold (query and title fully escaped; rank's names)."""
    if content_type != "application/json" or path not in ("/v1/compare", "/v1/rank"):
        return cfg.max_body_bytes
    images = cfg.max_rank_images if path == "/v1/rank" else 2
    names = cfg.max_rank_images * (MAX_NAME_CHARS * _ESCAPED + 8) if path == "/v1/rank" else 0
    return math.ceil(cfg.max_body_bytes * 4 / 3) + 2 * cfg.max_text_chars * _ESCAPED + images * _PER_IMAGE + names + 1024
