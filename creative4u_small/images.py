"""Opening creatives safely: paths, bytes or PIL images to RGB, EXIF-upright, size-capped.

Torch-free; shared by training, export parity and the runtime so every stage sees the same pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000


class ImageError(ValueError):
    """A creative that cannot be used, with the file and the reason."""


def _name(src) -> str:
    return str(src) if isinstance(src, (str, Path)) else f"<{type(src).__name__}>"


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB of any PIL mode: alpha composited on white, 16-bit scaled, CMYK/palette converted."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr / hi * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im.convert("RGB") if im.mode != "RGB" else im


def open_image(src, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``src`` (path, bytes or PIL image) into an upright RGB image, or raise ImageError."""
    name = _name(src)
    try:
        if isinstance(src, Image.Image):
            im = src
        elif isinstance(src, (bytes, bytearray, memoryview)):
            im = Image.open(io.BytesIO(bytes(src)))
        else:
            path = Path(src)
            if not path.is_file():
                raise ImageError(f"{path}: image file not found")
            im = Image.open(path)
        w, h = im.size
        if max_pixels and w * h > max_pixels:
            raise ImageError(f"{name}: {w}x{h} is {w * h:,} pixels, above the cap of {max_pixels:,}; downscale it or raise max_pixels")
        im.load()
        im = ImageOps.exif_transpose(im)
        return to_rgb(im)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a readable image file (expected JPEG, PNG, WebP, …)") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{name}: refused as a decompression bomb ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{name}: corrupt or truncated image ({e})") from None
