"""What a request may carry: body size, image bytes and pixels, text length, rank pool size.

Every refusal is a ``RequestError`` with an HTTP status, a kind (the metrics label) and a one-line
reason naming the field and the fix. Images come only from the request body, as bytes.
"""

from __future__ import annotations

import base64
import binascii

from PIL import Image

from creative4u_small.images import ImageError, open_image


class RequestError(Exception):
    """A request the server refuses: ``status`` (4xx/503), ``kind`` (metrics label), one-line ``reason``."""

    def __init__(self, status: int, kind: str, reason: str, headers: dict | None = None):
        super().__init__(reason)
        self.status, self.kind, self.reason, self.headers = status, kind, reason.splitlines()[0] if reason else kind, headers or {}


def decode_image(field: str, data: bytes, max_pixels: int) -> Image.Image:
    """Upright RGB image of an uploaded file, or RequestError 422 naming ``field`` (corrupt, not an image, too many pixels)."""
    if not data:
        raise RequestError(422, "bad_image", f"{field}: empty file; send the image's bytes")
    try:
        return open_image(data, max_pixels=max_pixels)
    except ImageError as e:
        reason = str(e)
        if reason.startswith("<"):
            reason = reason.split(": ", 1)[-1]
        raise RequestError(422, "bad_image", f"{field}: {reason}") from None
    except Exception as e:  # Pillow raises odd types on hostile input; the request is still the bad part
        raise RequestError(422, "bad_image", f"{field}: unreadable image ({type(e).__name__}: {e})") from None


def decode_base64(field: str, text) -> bytes:
    """Bytes of a base64 image in a JSON body (a ``data:image/...;base64,`` prefix is allowed)."""
    if not isinstance(text, str) or not text:
        raise RequestError(400, "bad_request", f"{field}: expected a base64 string of the image's bytes")
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "bad_request", f"{field}: not valid base64; encode the image file's bytes") from None


def check_text(field: str, value, max_chars: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RequestError(400, "bad_request", f"{field}: expected a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise RequestError(413, "too_large", f"{field}: {len(value)} characters, above the limit of {max_chars}")
    return value


def parse_bool(field: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return False
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise RequestError(400, "bad_request", f"{field}: {value!r} is not a boolean (true/false)")


def parse_top_k(value, n_images: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise RequestError(400, "bad_request", f"top_k: {value!r} is not an integer") from None
    if k < 1:
        raise RequestError(400, "bad_request", f"top_k: must be at least 1, got {k}")
    return min(k, n_images)


def check_pool(n_images: int, max_images: int) -> None:
    if n_images < 2:
        raise RequestError(400, "bad_request", f"images: rank needs at least 2 images, got {n_images}")
    if n_images > max_images:
        raise RequestError(413, "too_large", f"images: {n_images} images, above the server's pool limit of {max_images}; split the pool or raise --max-rank-images")
