"""Fixed vocabularies of the synthetic set: colours, product categories, queries, texts.

Product colours are saturated and at least ~75 apart in RGB; everything else that is drawn
(backgrounds, props, text) uses light, grey or muted tones, so that a product's pixels can be
told apart by colour alone (the tests and evaluation rely on that).
"""

from __future__ import annotations

RGB = tuple[int, int, int]

PRODUCT_COLOURS: dict[str, RGB] = {
    "red": (215, 38, 45),
    "blue": (35, 90, 210),
    "green": (30, 160, 70),
    "yellow": (245, 200, 20),
    "orange": (245, 125, 25),
    "purple": (135, 60, 190),
    "pink": (235, 90, 160),
    "teal": (0, 150, 150),
}

# (query noun, listing title) per category; the query is "<colour> <noun>".
CATEGORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "shoe": (
        ("running shoe", "Men's lightweight running shoe"),
        ("trail shoes", "Women's waterproof trail shoe"),
        ("sneakers", "Unisex canvas sneaker"),
        ("walking shoe", "Men's cushioned walking shoe"),
    ),
    "bag": (
        ("leather handbag", "Women's leather shoulder handbag"),
        ("backpack", "Water-resistant laptop backpack"),
        ("tote bag", "Large canvas tote bag"),
    ),
    "mug": (
        ("coffee mug", "Ceramic coffee mug 350 ml"),
        ("travel mug", "Insulated travel mug with lid"),
        ("tea mug", "Stoneware tea mug with infuser"),
    ),
    "lamp": (
        ("desk lamp", "LED desk lamp with dimmer"),
        ("table lamp", "Modern bedside table lamp"),
        ("reading lamp", "Adjustable reading lamp"),
    ),
    "bottle": (
        ("water bottle", "Stainless steel water bottle 750 ml"),
        ("sports bottle", "BPA-free sports bottle"),
        ("glass bottle", "Reusable glass drinking bottle"),
    ),
}

HEADLINES: dict[str, tuple[str, ...]] = {
    "shoe": ("Run lighter", "Step up", "Made to move", "New season"),
    "bag": ("Carry it all", "Everyday style", "Pack smart"),
    "mug": ("Morning ritual", "Sip in style", "Hot deal"),
    "lamp": ("Light up", "Bright ideas", "Glow on"),
    "bottle": ("Stay hydrated", "Drink up", "Cold for 24h"),
    "any": ("Best seller", "Limited offer", "Free shipping", "Top rated"),
}

CTA_TEXTS = ("Shop now", "Buy now", "Order today", "Get yours")
PRICES = ("$9", "$12", "$19", "$24", "$29", "$35", "$49", "$59", "$79")

PLAIN_BACKGROUNDS: tuple[RGB, ...] = (
    (248, 246, 240),
    (238, 242, 247),
    (242, 242, 242),
    (250, 240, 235),
    (236, 244, 238),
)
# (light, dark) tones of busy backgrounds: muted, with a strong light/dark swing.
BUSY_BACKGROUNDS: tuple[tuple[RGB, RGB], ...] = (
    ((215, 215, 220), (120, 125, 135)),
    ((230, 215, 190), (150, 125, 95)),
    ((205, 220, 225), (95, 115, 125)),
    ((225, 205, 205), (140, 110, 110)),
)
BUSY_STYLES = ("stripes", "checks", "noise", "dots")

PROP_KINDS = ("plant", "box", "ball", "vase", "books")
PROP_COLOURS: tuple[RGB, ...] = (
    (120, 100, 80),
    (100, 115, 80),
    (160, 150, 140),
    (90, 100, 115),
    (190, 170, 140),
)

DARK_TEXT: RGB = (20, 20, 30)
LIGHT_TEXT: RGB = (255, 255, 255)


def colour_distance(a: RGB, b: RGB) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5


def distinct_colours(name: str, min_distance: float = 110.0) -> list[str]:
    """Product colour names clearly different from ``name`` (never a near neighbour)."""
    ref = PRODUCT_COLOURS[name]
    return [c for c, rgb in PRODUCT_COLOURS.items() if c != name and colour_distance(rgb, ref) >= min_distance]
