"""Opening creatives safely: paths, bytes or PIL images to RGB, EXIF-upright, size-capped.

Torch-free; shared by training, export parity and the runtime so every stage sees the same pixels.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

# registered on import; Image.open(formats=...) looks only at registered decoders
from PIL import BmpImagePlugin, GifImagePlugin, Image, ImageOps, JpegImagePlugin, PngImagePlugin, TiffImagePlugin, UnidentifiedImageError, WebPImagePlugin  # noqa: F401

DEFAULT_MAX_PIXELS = 40_000_000
# The only formats decoded: Pillow would otherwise hand EPS to Ghostscript and try a dozen rarer decoders.
# (JPEG covers MPO, the JPEG with a second picture that many phone cameras write.)
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
_FORMAT_NAMES = "PNG, JPEG, WebP, GIF, BMP or TIFF"


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


def _open(src, name: str) -> Image.Image:
    """The lazily opened image (header read, pixels not decoded), one of ``FORMATS``."""
    if isinstance(src, Image.Image):
        return src
    if isinstance(src, (bytes, bytearray, memoryview)):
        return Image.open(io.BytesIO(bytes(src)), formats=FORMATS)
    path = Path(src)
    if not path.is_file():
        raise ImageError(f"{path}: image file not found")
    return Image.open(path, formats=FORMATS)


def _check_pixels(name: str, w: int, h: int, max_pixels: int, cap_name: str) -> None:
    if max_pixels and w * h > max_pixels:
        raise ImageError(f"{name}: {w}x{h} is {w * h:,} pixels, above the cap of {max_pixels:,}; downscale it or raise {cap_name}")


def _reason(e: Exception, name: str, max_pixels: int, cap_name: str) -> ImageError:
    """One-line ImageError for what Pillow raised on a bad file."""
    if isinstance(e, Image.DecompressionBombError):  # Pillow's own cap fired first: name ours, not Pillow's
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        cap = f"the cap of {max_pixels:,}" if max_pixels else f"Pillow's limit of {2 * Image.MAX_IMAGE_PIXELS:,}"
        return ImageError(f"{name}: {size}, above {cap}; downscale it or raise {cap_name}")
    if isinstance(e, UnidentifiedImageError):
        return ImageError(f"{name}: not a readable image file (expected {_FORMAT_NAMES})")
    return ImageError(f"{name}: corrupt or truncated image ({str(e).splitlines()[0] if str(e) else type(e).__name__})")


def image_size(src, max_pixels: int = DEFAULT_MAX_PIXELS, cap_name: str = "max_pixels") -> tuple[int, int]:
    """(width, height) from the file's header alone, without decoding pixels; ImageError as ``open_image``."""
    name = _name(src)
    try:
        w, h = _open(src, name).size
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise _reason(e, name, max_pixels, cap_name) from None
    _check_pixels(name, w, h, max_pixels, cap_name)
    return w, h


def open_image(src, max_pixels: int = DEFAULT_MAX_PIXELS, cap_name: str = "max_pixels") -> Image.Image:
    """Decode ``src`` (path, bytes or PIL image) into an upright RGB image, or raise ImageError.

    Only ``FORMATS`` are decoded; the pixel cap is checked from the header, before decoding, and the
    refusal names ``cap_name`` (the setting that raises it).
    """
    name = _name(src)
    try:
        im = _open(src, name)
        _check_pixels(name, *im.size, max_pixels, cap_name)
        im.load()
        return to_rgb(ImageOps.exif_transpose(im))
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise _reason(e, name, max_pixels, cap_name) from None
