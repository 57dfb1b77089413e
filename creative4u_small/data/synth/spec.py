"""What to draw for one creative: a plain description that ``render`` turns into pixels.

Positions and sizes are fractions of the (square) frame, so a spec renders at any size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from creative4u_small.data.synth.catalog import RGB


@dataclass(frozen=True)
class Prop:
    """A clutter prop: a muted object around the product."""

    kind: str  # one of catalog.PROP_KINDS
    x: float  # centre
    y: float  # bottom edge
    size: float  # height
    colour: RGB


@dataclass(frozen=True)
class CreativeSpec:
    category: str  # product drawn: shoe, bag, mug, lamp, bottle
    colour: str  # product colour name (catalog.PRODUCT_COLOURS)
    size: float  # product size: side of a square of the product box's area
    cx: float  # product box centre
    cy: float
    background: str  # "plain" or one of catalog.BUSY_STYLES
    bg_colour: RGB
    bg_colour2: RGB  # second tone of busy backgrounds (= bg_colour when plain)
    headline: str
    text_colour: RGB
    text_stroke: RGB | None  # outline that keeps the headline readable on anything
    price: str
    badge_colour: RGB
    badge_left: bool
    cta_text: str | None  # None: no call-to-action button
    cta_colour: RGB
    props: tuple[Prop, ...] = field(default_factory=tuple)
    texture_seed: int = 0  # randomness of noise backgrounds


# Product box aspect (width / height) per category.
ASPECT = {"shoe": 1.6, "bag": 1.0, "mug": 1.15, "lamp": 0.75, "bottle": 0.42}
MAX_SIDE = 0.9


def product_box(spec: CreativeSpec) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the product in frame fractions; may extend past the frame."""
    w, h = product_extent(spec.category, spec.size)
    return spec.cx - w / 2, spec.cy - h / 2, spec.cx + w / 2, spec.cy + h / 2


def product_extent(category: str, size: float) -> tuple[float, float]:
    aspect = ASPECT[category]
    w, h = size * aspect**0.5, size / aspect**0.5
    shrink = min(1.0, MAX_SIDE / max(w, h))
    return w * shrink, h * shrink
