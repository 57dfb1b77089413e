"""Draw one creative from a ``CreativeSpec`` with Pillow.

Everything is drawn at twice the output size and box-filtered down, which anti-aliases edges
cheaply. Fonts are Pillow's bundled FreeType default (Pillow >= 10.1); nothing is downloaded.
Rendering is a pure function of the spec and the size, so output is byte-identical per seed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from creative4u_small.data.synth.catalog import PRODUCT_COLOURS, RGB
from creative4u_small.data.synth.spec import CreativeSpec, Prop, product_box

SUPERSAMPLE = 2


@lru_cache(maxsize=None)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(6, int(size)))


def shade(rgb: RGB, k: float) -> RGB:
    """Darker (k < 1) or lighter (k > 1, towards white) version of a colour."""
    if k <= 1:
        return tuple(int(c * k) for c in rgb)
    t = k - 1
    return tuple(int(c + (255 - c) * t) for c in rgb)


def render(spec: CreativeSpec, size: int = 96) -> Image.Image:
    """The creative as an RGB image of ``size`` x ``size`` pixels."""
    c = size * SUPERSAMPLE
    im = background(spec, c)
    d = ImageDraw.Draw(im)
    for prop in spec.props:
        draw_prop(d, prop, c)
    x0, y0, x1, y1 = (v * c for v in product_box(spec))
    PRODUCTS[spec.category](d, (x0, y0, x1, y1), PRODUCT_COLOURS[spec.colour])
    draw_headline(d, spec, c)
    draw_badge(d, spec, c)
    if spec.cta_text:
        draw_cta(d, spec, c)
    return im.reduce(SUPERSAMPLE)


# ---------------------------------------------------------------- background


def background(spec: CreativeSpec, c: int) -> Image.Image:
    a, b = spec.bg_colour, spec.bg_colour2
    im = Image.new("RGB", (c, c), a)
    if spec.background == "plain":
        return im
    d = ImageDraw.Draw(im)
    if spec.background == "stripes":
        p = c * 0.14  # period; stripes are half of it
        k = -c
        while k < c:
            d.polygon([(k, 0), (k + p / 2, 0), (k + p / 2 + c, c), (k + c, c)], fill=b)
            k += p
    elif spec.background == "checks":
        q = max(2, round(c * 0.1))
        for i in range(0, c, q):
            for j in range(0, c, q):
                if (i // q + j // q) % 2:
                    d.rectangle([i, j, i + q - 1, j + q - 1], fill=b)
    elif spec.background == "dots":
        p, r = c * 0.13, c * 0.04
        for i in range(9):
            for j in range(9):
                x, y = (i + 0.5 * (j % 2)) * p, j * p
                d.ellipse([x - r, y - r, x + r, y + r], fill=b)
    elif spec.background == "noise":
        n = 16
        t = np.random.default_rng(spec.texture_seed).random((n, n, 1))
        arr = np.asarray(a, dtype=np.float64) * (1 - t) + np.asarray(b, dtype=np.float64) * t
        im = Image.fromarray(arr.round().astype(np.uint8), "RGB").resize((c, c), Image.Resampling.NEAREST)
    else:
        raise ValueError(f"unknown background {spec.background!r}")
    return im


# ---------------------------------------------------------------- products


def draw_shoe(d: ImageDraw.ImageDraw, box, rgb: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    upper = [
        (x0 + 0.02 * w, y1 - 0.2 * h), (x0 + 0.04 * w, y0 + 0.12 * h), (x0 + 0.3 * w, y0 + 0.22 * h),
        (x0 + 0.42 * w, y0), (x0 + 0.7 * w, y0 + 0.4 * h), (x0 + 0.97 * w, y0 + 0.58 * h),
        (x1, y1 - 0.2 * h),
    ]
    d.polygon(upper, fill=rgb)
    d.rounded_rectangle([x0, y1 - 0.24 * h, x1, y1], radius=0.1 * h, fill=shade(rgb, 0.55))
    lace = shade(rgb, 1.6)
    for k in range(3):
        lx, ly = x0 + (0.46 + 0.08 * k) * w, y0 + (0.12 + 0.09 * k) * h
        d.line([(lx, ly), (lx + 0.07 * w, ly + 0.09 * h)], fill=lace, width=max(1, int(0.04 * h)))


def draw_bag(d: ImageDraw.ImageDraw, box, rgb: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d.arc([x0 + 0.22 * w, y0, x1 - 0.22 * w, y0 + 0.62 * h], 180, 360, fill=shade(rgb, 0.6), width=max(1, int(0.07 * h)))
    d.rounded_rectangle([x0, y0 + 0.3 * h, x1, y1], radius=0.1 * w, fill=rgb)
    d.rectangle([x0 + 0.44 * w, y0 + 0.42 * h, x0 + 0.56 * w, y0 + 0.52 * h], fill=shade(rgb, 0.6))


def draw_mug(d: ImageDraw.ImageDraw, box, rgb: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d.ellipse([x0 + 0.55 * w, y0 + 0.25 * h, x1, y0 + 0.75 * h], outline=rgb, width=max(1, int(0.1 * w)))
    d.rounded_rectangle([x0, y0 + 0.08 * h, x0 + 0.76 * w, y1], radius=0.08 * w, fill=rgb)
    d.ellipse([x0, y0, x0 + 0.76 * w, y0 + 0.16 * h], fill=shade(rgb, 0.6))


def draw_lamp(d: ImageDraw.ImageDraw, box, rgb: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d.rectangle([x0 + 0.45 * w, y0 + 0.4 * h, x0 + 0.55 * w, y1 - 0.08 * h], fill=shade(rgb, 0.55))
    d.polygon([(x0 + 0.18 * w, y0), (x1 - 0.18 * w, y0), (x1, y0 + 0.45 * h), (x0, y0 + 0.45 * h)], fill=rgb)
    d.ellipse([x0 + 0.12 * w, y1 - 0.16 * h, x1 - 0.12 * w, y1], fill=rgb)


def draw_bottle(d: ImageDraw.ImageDraw, box, rgb: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d.rectangle([x0 + 0.3 * w, y0 + 0.06 * h, x1 - 0.3 * w, y0 + 0.25 * h], fill=rgb)
    d.rectangle([x0 + 0.26 * w, y0, x1 - 0.26 * w, y0 + 0.08 * h], fill=shade(rgb, 0.5))
    d.ellipse([x0, y0 + 0.17 * h, x1, y0 + 0.4 * h], fill=rgb)
    d.rounded_rectangle([x0, y0 + 0.28 * h, x1, y1], radius=0.18 * w, fill=rgb)
    d.rectangle([x0, y0 + 0.56 * h, x1, y0 + 0.7 * h], fill=shade(rgb, 1.7))


PRODUCTS = {"shoe": draw_shoe, "bag": draw_bag, "mug": draw_mug, "lamp": draw_lamp, "bottle": draw_bottle}


# ---------------------------------------------------------------- props and text


def draw_prop(d: ImageDraw.ImageDraw, p: Prop, c: int) -> None:
    s, x, yb = p.size * c, p.x * c, p.y * c
    dark = shade(p.colour, 0.7)
    if p.kind == "plant":
        d.ellipse([x - 0.45 * s, yb - s, x + 0.45 * s, yb - 0.35 * s], fill=dark)
        d.polygon([(x - 0.3 * s, yb - 0.45 * s), (x + 0.3 * s, yb - 0.45 * s), (x + 0.2 * s, yb), (x - 0.2 * s, yb)], fill=p.colour)
    elif p.kind == "box":
        d.rectangle([x - 0.5 * s, yb - 0.7 * s, x + 0.5 * s, yb], fill=p.colour, outline=dark, width=max(1, int(0.06 * s)))
    elif p.kind == "ball":
        d.ellipse([x - 0.4 * s, yb - 0.8 * s, x + 0.4 * s, yb], fill=p.colour)
    elif p.kind == "vase":
        d.ellipse([x - 0.3 * s, yb - 0.7 * s, x + 0.3 * s, yb], fill=p.colour)
        d.rectangle([x - 0.1 * s, yb - s, x + 0.1 * s, yb - 0.6 * s], fill=dark)
    elif p.kind == "books":
        for k in range(3):
            yy = yb - (k + 1) * 0.22 * s
            d.rectangle([x - (0.5 - 0.06 * k) * s, yy, x + (0.5 - 0.04 * k) * s, yy + 0.2 * s], fill=dark if k % 2 else p.colour)
    else:
        raise ValueError(f"unknown prop {p.kind!r}")


def fitted_font(d: ImageDraw.ImageDraw, text: str, size: float, max_width: float) -> ImageFont.FreeTypeFont:
    f = font(size)
    while f.size > 6 and d.textlength(text, font=f) > max_width:
        f = font(f.size - 2)
    return f


def draw_headline(d: ImageDraw.ImageDraw, spec: CreativeSpec, c: int) -> None:
    f = fitted_font(d, spec.headline, 0.13 * c, 0.92 * c)
    stroke = max(1, round(0.012 * c)) if spec.text_stroke else 0
    d.text((c / 2, 0.03 * c), spec.headline, font=f, fill=spec.text_colour, anchor="mt",
           stroke_width=stroke, stroke_fill=spec.text_stroke)


def draw_badge(d: ImageDraw.ImageDraw, spec: CreativeSpec, c: int) -> None:
    r = 0.095 * c
    x, y = (0.13 if spec.badge_left else 0.87) * c, 0.27 * c
    d.ellipse([x - r, y - r, x + r, y + r], fill=spec.badge_colour)
    d.text((x, y), spec.price, font=fitted_font(d, spec.price, 0.085 * c, 1.7 * r), fill=(255, 255, 255), anchor="mm")


def draw_cta(d: ImageDraw.ImageDraw, spec: CreativeSpec, c: int) -> None:
    box = [0.25 * c, 0.85 * c, 0.75 * c, 0.97 * c]
    d.rounded_rectangle(box, radius=0.05 * c, fill=spec.cta_colour)
    f = fitted_font(d, spec.cta_text, 0.075 * c, 0.46 * c)
    d.text((c / 2, 0.91 * c), spec.cta_text, font=f, fill=(255, 255, 255), anchor="mm")
