"""Image preprocessing in numpy + Pillow, reproducing the exported model's HF image processor.

The presets and the framed hub students (SmolVLM, SmolVLM2) use their Pillow image processors in one-frame form:
resize so the longest edge is ``longest_edge`` (short edge rounded up to even), resize again to
the ``image_size`` square, rescale uint8 → float64 × factor → float32, then normalise in float32.
Both resizes go through Pillow on uint8 images with the manifest's filter, exactly as the HF
code does, so the result matches to float rounding. The constants come from the manifest.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from creative4u_small.contract.images import DEFAULT_MAX_PIXELS, open_image
from creative4u_small.runtime.manifest import Preprocessing

# transformers' Idefics3 absolute cap on the first resize (MAX_IMAGE_SIZE in its image processor)
_IDEFICS3_MAX_SIDE = 4096


def longest_edge_size(height: int, width: int, longest_edge: int) -> tuple[int, int]:
    """(height, width) after scaling the longest edge to ``longest_edge``; the other edge even, ≥ 1."""
    aspect = width / height
    if width >= height:
        width = longest_edge
        height = int(width / aspect)
        height += height % 2
    else:
        height = longest_edge
        width = int(height * aspect)
        width += width % 2
    height, width = max(height, 1), max(width, 1)
    # the processor's second bound (4k) only ever shrinks
    aspect = width / height
    if width >= height and width > _IDEFICS3_MAX_SIDE:
        width, height = _IDEFICS3_MAX_SIDE, int(_IDEFICS3_MAX_SIDE / aspect)
    elif height > width and height > _IDEFICS3_MAX_SIDE:
        height, width = _IDEFICS3_MAX_SIDE, int(_IDEFICS3_MAX_SIDE * aspect)
    return max(height, 1), max(width, 1)


def resize_rgb(im: Image.Image, spec: Preprocessing) -> Image.Image:
    """The two Pillow resizes of the HF processor (longest edge, then the model's square)."""
    if spec.longest_edge:
        h, w = longest_edge_size(im.height, im.width, spec.longest_edge)
        im = im.resize((w, h), resample=spec.resample)
    return im.resize((spec.image_size, spec.image_size), resample=spec.resample)


def to_pixel_values(im: Image.Image, spec: Preprocessing) -> np.ndarray:
    """[3, S, S] float32 pixel values of an RGB image."""
    arr = np.asarray(resize_rgb(im, spec), dtype=np.uint8)
    arr = (arr.astype(np.float64) * spec.rescale_factor).astype(np.float32)
    if spec.do_normalize:
        mean = np.asarray(spec.image_mean, dtype=np.float32)
        std = np.asarray(spec.image_std, dtype=np.float32)
        arr = (arr - mean) / std
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def preprocess(src, spec: Preprocessing, max_pixels: int = DEFAULT_MAX_PIXELS, cap_name: str = "max_pixels") -> np.ndarray:
    """Path, bytes or PIL image → [3, S, S] float32; unreadable or oversized input raises ImageError (naming ``cap_name``)."""
    return to_pixel_values(open_image(src, max_pixels=max_pixels, cap_name=cap_name), spec)

