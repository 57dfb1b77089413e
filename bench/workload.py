"""What a benchmark measures on: (image_a, image_b, query, title) items from a pairs file or rendered synthetic
creatives."""

from __future__ import annotations

import math
from pathlib import Path

from creative4u_small.contract.pairs import load_pairs
from creative4u_small.data.synth import synthesize


def items_of(pairs) -> list[tuple]:
    """(image_a, image_b, query, title) of each CreativePair."""
    return [(p.image_a, p.image_b, p.query, p.title) for p in pairs]


def synthetic_items(n: int, folder: Path, seed: int, image_size: int) -> list[tuple]:
    """``n`` synthetic pairs rendered into ``folder`` at ``image_size`` px, as items."""
    return items_of(load_pairs(synthesize(n, Path(folder), seed=seed, image_size=image_size)))


def workload(cfg, workdir: Path, image_size: int) -> list[tuple]:
    """Items enough for ``cfg``'s largest batch and largest pool (``cfg``: a ``BenchConfig``): ``cfg.pairs`` when
    given, else synthetic creatives at ``image_size`` px rendered under ``workdir``."""
    need = max(max(cfg.batch_sizes, default=1), math.ceil(max(cfg.rank_sizes, default=2) / 2), cfg.runs, 2)
    if cfg.pairs is not None:
        items = items_of(load_pairs(cfg.pairs, check_images="decode"))
    else:
        items = synthetic_items(need, Path(workdir) / "synth", cfg.seed, image_size)
    images = distinct_images(items)
    if len(items) < max(cfg.batch_sizes, default=1) or len(images) < max(cfg.rank_sizes, default=2):
        raise ValueError(f"{cfg.pairs}: {len(items)} pairs / {len(images)} distinct images are too few for batch sizes "
                         f"{list(cfg.batch_sizes)} and rank sizes {list(cfg.rank_sizes)}; give more pairs or smaller sizes")
    return items


def distinct_images(items) -> list:
    """The images of (a, b, query, title) items, each once, in order."""
    return list(dict.fromkeys(src for a, b, _, _ in items for src in (a, b)))
