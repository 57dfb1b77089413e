"""Hidden quality factors of a creative, how they combine into a score, and pair sampling.

Every factor is binary (1 = the better value). A creative's score is the weighted sum of its
factors; the label of a pair is the creative with the higher score. Product size dominates:
its weight is larger than any two other weights together, so a pair that differs in size is
always won by the larger product. The query-dependent (cross-modal) factors weigh little.

A pair differs in 1-3 factors; pairs whose score gap is below ``MIN_GAP`` are redrawn, so no
pair is ambiguous.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from creative4u_small.data.synth import catalog
from creative4u_small.data.synth.spec import CreativeSpec, Prop, product_extent

WEIGHTS: dict[str, float] = {
    "large_product": 3.0,  # product fills much of the frame (vs small)
    "plain_background": 1.5,  # plain (vs busy: stripes, checks, noise, dots)
    "readable_text": 1.0,  # high-contrast headline (vs low contrast)
    "centred": 0.7,  # product centred (vs pushed off the edge)
    "uncluttered": 0.6,  # no props (vs several clutter props)
    "cta": 0.4,  # a call-to-action button
    "colour_match": 0.4,  # product colour is the colour named in the query
    "category_match": 0.4,  # product is the category the query and title ask for
}
FACTORS = tuple(WEIGHTS)
MIN_GAP = 0.4

# Which factor decides a pair (the "primary" difference), and how often.
PRIMARY = {"large_product": 0.70, "plain_background": 0.15, "readable_text": 0.10, "centred": 0.05}
# Further differences (0-2 of them), drawn among the non-size factors with these weights.
EXTRA = {"plain_background": 3, "readable_text": 3, "centred": 2, "uncluttered": 2, "cta": 1.5,
         "colour_match": 1.5, "category_match": 1}
EXTRA_COUNT = {0: 0.3, 1: 0.45, 2: 0.25}
ALIGN = 0.8  # chance that an extra difference favours the same creative as the primary one
# Chance of the better value for factors on which the two creatives agree.
BASE_RATE = {"large_product": 0.5, "plain_background": 0.5, "readable_text": 0.6, "centred": 0.6,
             "uncluttered": 0.5, "cta": 0.6, "colour_match": 0.75, "category_match": 0.85}

SMALL_SIZE, LARGE_SIZE = (0.24, 0.32), (0.50, 0.62)


@dataclass(frozen=True)
class Factors:
    large_product: int
    plain_background: int
    readable_text: int
    centred: int
    uncluttered: int
    cta: int
    colour_match: int
    category_match: int

    def score(self) -> float:
        return round(sum(WEIGHTS[k] * getattr(self, k) for k in FACTORS), 6)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Context:
    """What the two creatives of a pair share: the shopper's query and the listing."""

    category: str
    colour: str
    query: str
    title: str
    price: str


@dataclass(frozen=True)
class PairDraw:
    context: Context
    winner: Factors
    loser: Factors
    differ: tuple[str, ...]


def _weighted(rng: random.Random, table: dict):
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


def sample_context(rng: random.Random) -> Context:
    category = rng.choice(sorted(catalog.CATEGORIES))
    colour = rng.choice(sorted(catalog.PRODUCT_COLOURS))
    noun, title = rng.choice(catalog.CATEGORIES[category])
    return Context(category, colour, f"{colour} {noun}", title, rng.choice(catalog.PRICES))


def sample_factors(rng: random.Random) -> PairDraw:
    """A (winner, loser) pair of factor sets that differ in 1-3 factors by at least MIN_GAP."""
    context = sample_context(rng)
    while True:
        primary = _weighted(rng, PRIMARY)
        pool = {k: v for k, v in EXTRA.items() if k != primary}
        extras = []
        for _ in range(_weighted(rng, EXTRA_COUNT)):
            extras.append(_weighted(rng, pool))
            pool.pop(extras[-1])
        first = {k: int(rng.random() < BASE_RATE[k]) for k in FACTORS}
        second = dict(first)
        first[primary], second[primary] = 1, 0
        for k in extras:
            good_first = rng.random() < ALIGN
            first[k], second[k] = int(good_first), int(not good_first)
        a, b = Factors(**first), Factors(**second)
        gap = a.score() - b.score()
        if abs(gap) >= MIN_GAP - 1e-9:
            break
    winner, loser = (a, b) if gap > 0 else (b, a)
    differ = tuple(k for k in FACTORS if k == primary or k in extras)
    return PairDraw(context, winner, loser, differ)


def realise(f: Factors, ctx: Context, rng: random.Random) -> CreativeSpec:
    """A concrete, drawable creative with these hidden factors."""
    category = ctx.category if f.category_match else rng.choice([c for c in sorted(catalog.CATEGORIES) if c != ctx.category])
    colour = ctx.colour if f.colour_match else rng.choice(catalog.distinct_colours(ctx.colour))
    size = rng.uniform(*(LARGE_SIZE if f.large_product else SMALL_SIZE))
    w, h = product_extent(category, size)
    if f.centred:
        cx, cy = 0.5 + rng.uniform(-0.03, 0.03), 0.55 + rng.uniform(-0.03, 0.03)
    else:  # about a third of the product leaves the frame at a side
        cut = rng.uniform(0.28, 0.38) * w
        cx = w / 2 - cut if rng.random() < 0.5 else 1 - w / 2 + cut
        cy = rng.choice((0.4, 0.68)) + rng.uniform(-0.04, 0.04)
    if f.plain_background:
        style, bg = "plain", rng.choice(catalog.PLAIN_BACKGROUNDS)
        bg2 = bg
    else:
        style = rng.choice(catalog.BUSY_STYLES)
        bg, bg2 = rng.choice(catalog.BUSY_BACKGROUNDS)
    if f.readable_text:
        text, stroke = catalog.DARK_TEXT, catalog.LIGHT_TEXT
    else:  # a tone just off the background: hard to read
        mean = tuple((x + y) // 2 for x, y in zip(bg, bg2))
        text, stroke = tuple(max(0, v - 22) for v in mean), None
    accents = [c for c in catalog.distinct_colours(colour) if c != "yellow" and c != ctx.colour]
    accent = [catalog.PRODUCT_COLOURS[c] for c in rng.sample(accents, 2)]
    props = () if f.uncluttered else tuple(_prop(rng) for _ in range(rng.randint(3, 5)))
    return CreativeSpec(
        category=category, colour=colour, size=round(size, 4), cx=round(cx, 4), cy=round(cy, 4),
        background=style, bg_colour=bg, bg_colour2=bg2,
        headline=rng.choice(catalog.HEADLINES[category] + catalog.HEADLINES["any"]),
        text_colour=text, text_stroke=stroke, price=ctx.price, badge_colour=accent[0],
        badge_left=rng.random() < 0.5, cta_text=rng.choice(catalog.CTA_TEXTS) if f.cta else None,
        cta_colour=accent[1], props=props, texture_seed=rng.getrandbits(32),
    )


def _prop(rng: random.Random) -> Prop:
    return Prop(
        kind=rng.choice(catalog.PROP_KINDS),
        x=round(rng.choice((rng.uniform(0.08, 0.3), rng.uniform(0.7, 0.92))), 4),
        y=round(rng.uniform(0.55, 0.98), 4),
        size=round(rng.uniform(0.16, 0.26), 4),
        colour=rng.choice(catalog.PROP_COLOURS),
    )


def spec_summary(spec: CreativeSpec) -> dict:
    """The visible facts of a rendered creative, for the record's ``factors`` entry."""
    return {"category": spec.category, "colour": spec.colour, "size": spec.size, "cx": spec.cx,
            "cy": spec.cy, "background": spec.background, "props": len(spec.props)}
