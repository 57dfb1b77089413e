"""A distribution-shift pair set: creatives unlike the synthetic renderer's, to check INT8 against fp32.

The synthetic renderer draws flat, light, square creatives with one product and one headline. Real
creatives are not like that, and INT8 with static activation scales calibrated on one kind of image
clips on another. These pairs are built to sit outside that distribution on purpose:

- ``photo``: multi-octave noise fields with lighting gradients and soft blobs (photo-like textures);
- ``screenshot``: text-dense pages (a navigation bar, many lines of small text, boxes and buttons);
- ``dark``: near-black backgrounds with saturated neon shapes and text;
- ``saturated``: hard-edged blocks of fully saturated colour at maximum contrast;

each at an aspect ratio drawn from ``ASPECTS`` (the runtime resizes every creative to the model's
square, so wide and tall ones are squeezed). Pair ``i`` depends only on ``(seed, i)``. The pairs have
no label (nothing decides which is better): they are for comparing two engines, never accuracy.
Torch-free: numpy and Pillow.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from creative4u_small.contract.pairs import CreativePair
from creative4u_small.data.synth.generate import render_set

KINDS = ("photo", "screenshot", "dark", "saturated")
ASPECTS = ((1, 1), (2, 1), (1, 2), (4, 3), (3, 4), (16, 9), (9, 16))
QUERIES = (
    ("noise cancelling headphones", "Wireless over-ear headphones, 40 h battery"),
    ("espresso machine", "15-bar espresso maker with milk frother"),
    ("yoga mat", "Non-slip 6 mm yoga mat with carry strap"),
    ("gaming laptop", "16-inch gaming laptop, 32 GB RAM, 1 TB SSD"),
    ("summer dress", "Women's floral midi dress, short sleeves"),
    ("robot vacuum", "Robot vacuum cleaner with mapping and mop"),
    ("winter jacket", "Men's insulated parka with detachable hood"),
    ("phone case", "Shockproof clear case with magnetic ring"),
)
WORDS = ("sale", "new", "free", "shipping", "today", "only", "best", "price", "order", "now", "limited", "offer",
         "save", "deal", "quality", "premium", "fast", "delivery", "reviews", "stars", "buy", "shop", "more", "info")


def _size(rng: random.Random, base: int) -> tuple[int, int]:
    """(width, height) with the longer side ``base`` and an aspect drawn from ``ASPECTS``."""
    w, h = rng.choice(ASPECTS)
    return (base, max(8, base * h // w)) if w >= h else (max(8, base * w // h), base)


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(6, int(size)))


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def photo(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Noise at several scales, coloured per channel, under a lighting gradient, with soft blobs."""
    w, h = size
    nprng = np.random.default_rng(rng.getrandbits(32))
    field = np.zeros((h, w, 3), np.float32)
    for octave in range(1, 6):
        cells = 2 ** octave
        coarse = nprng.random((cells + 1, cells + 1, 3)).astype(np.float32)
        up = Image.fromarray((coarse * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
        field += np.asarray(up, np.float32) / 255 / 2 ** octave
    field /= field.max()
    light = np.linspace(rng.uniform(0.3, 0.8), rng.uniform(0.9, 1.3), h, dtype=np.float32)[:, None, None]
    tint = np.array([rng.uniform(0.5, 1.2) for _ in range(3)], np.float32)
    im = Image.fromarray(np.clip(field * light * tint * 255, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(2, 5)):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.35) * min(w, h)
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    return im.filter(ImageFilter.GaussianBlur(radius=max(1, min(w, h) // 40)))


def screenshot(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A text-dense page: a navigation bar, lines of small dark text, boxes and a button."""
    w, h = size
    im = Image.new("RGB", size, tuple(rng.randint(235, 255) for _ in range(3)))
    d = ImageDraw.Draw(im)
    bar = max(4, h // 10)
    d.rectangle((0, 0, w, bar), fill=tuple(rng.randint(20, 90) for _ in range(3)))
    line = max(6, min(w, h) // 18)
    y = bar + line // 2
    while y < h - line:
        x = rng.randint(0, max(1, w // 20))
        if rng.random() < 0.15:
            d.rectangle((x, y, x + rng.uniform(0.2, 0.5) * w, y + 2 * line), outline=(120, 120, 120),
                        fill=tuple(rng.randint(180, 240) for _ in range(3)))
            y += 2 * line + line // 2
            continue
        d.text((x, y), _words(rng, 12), fill=tuple(rng.randint(0, 70) for _ in range(3)), font=_font(line * 0.8))
        y += line
    bx, by = rng.uniform(0.5, 0.7) * w, rng.uniform(0.6, 0.85) * h
    d.rectangle((bx, by, bx + 0.28 * w, by + 1.6 * line), fill=(rng.randint(0, 255), 90, 200))
    return im


def dark(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Near-black with saturated neon shapes, outlines and bright text."""
    w, h = size
    im = Image.new("RGB", size, tuple(rng.randint(0, 18) for _ in range(3)))
    d = ImageDraw.Draw(im)
    neon = ((255, 0, 200), (0, 255, 240), (255, 230, 0), (0, 255, 60), (255, 40, 0))
    for _ in range(rng.randint(3, 7)):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        x1, y1 = x0 + rng.uniform(0.1, 0.5) * w, y0 + rng.uniform(0.1, 0.5) * h
        colour = rng.choice(neon)
        if rng.random() < 0.5:
            d.ellipse((x0, y0, x1, y1), outline=colour, width=max(1, min(w, h) // 40))
        else:
            d.rectangle((x0, y0, x1, y1), fill=colour)
    d.text((w * 0.05, h * 0.75), _words(rng, 3).upper(), fill=rng.choice(neon), font=_font(min(w, h) // 8))
    return im


def saturated(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Hard-edged blocks of fully saturated colour, black and white at maximum contrast."""
    w, h = size
    palette = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 0), (255, 0, 255), (0, 255, 255), (0, 0, 0), (255, 255, 255))
    im = Image.new("RGB", size, rng.choice(palette))
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(4, 10)):
        x0, y0 = rng.uniform(-0.2, 1) * w, rng.uniform(-0.2, 1) * h
        d.rectangle((x0, y0, x0 + rng.uniform(0.1, 0.7) * w, y0 + rng.uniform(0.1, 0.7) * h), fill=rng.choice(palette))
    d.text((w * 0.05, h * 0.05), _words(rng, 2).upper(), fill=rng.choice(palette), font=_font(min(w, h) // 6))
    return im


DRAW = {"photo": photo, "screenshot": screenshot, "dark": dark, "saturated": saturated}


def make_pair(i: int, seed: int, img_dir: Path, image_size: int) -> CreativePair:
    """Pair ``i``: two creatives of kinds drawn so that every kind meets every other over the set."""
    rng = random.Random(f"c4u-shift:{seed}:{i}")
    kinds = (KINDS[i % len(KINDS)], rng.choice(KINDS))
    query, title = rng.choice(QUERIES)
    pid = f"shift-{i:06d}"
    paths = {}
    for side, kind in zip("ab", kinds):
        size = _size(rng, image_size)
        paths[side] = img_dir / f"{pid}_{side}.png"
        DRAW[kind](rng, size).save(paths[side], format="PNG")
    return CreativePair(id=pid, image_a=paths["a"], image_b=paths["b"], query=query, title=title, synthetic=True,
                        extra={"shift": {"a": kinds[0], "b": kinds[1]}})


def synthesize_shift(n: int, out_dir: Path, seed: int = 0, image_size: int = 128, progress=None) -> Path:
    """Render ``n`` shift pairs into ``out_dir/img`` and write ``out_dir/pairs.jsonl``; returns the JSONL path."""
    return render_set(make_pair, n, out_dir, seed, image_size, progress)
