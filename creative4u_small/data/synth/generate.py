"""The synthetic CreativePair set: sample, render and label ``n`` pairs.

Pair ``i`` depends only on ``(seed, i)``, so a larger ``n`` extends a smaller set with the same
first pairs, and the same seed gives byte-identical images and JSONL. Labels are balanced
exactly within each block of two consecutive pairs (one "A", one "B").
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from creative4u_small.contract.pairs import CreativePair, write_pairs
from creative4u_small.data.synth.factors import realise, sample_factors, spec_summary
from creative4u_small.data.synth.rationale import rationale
from creative4u_small.data.synth.render import render

PAIRS_FILE = "pairs.jsonl"
IMAGE_DIR = "img"


def ctr_of(score: float) -> float:
    """A plausible click-through rate, increasing with the hidden score (0.4% to ~6.6%)."""
    return round(0.004 * math.exp(0.35 * score), 5)


def label_of(seed: int, i: int) -> str:
    """"A" or "B", exactly one of each per block of pairs (2k, 2k+1)."""
    first = random.Random(f"c4u-synth-label:{seed}:{i // 2}").random() < 0.5
    return "A" if first == (i % 2 == 0) else "B"


def make_pair(i: int, seed: int, img_dir: Path, image_size: int) -> CreativePair:
    rng = random.Random(f"c4u-synth:{seed}:{i}")
    draw = sample_factors(rng)
    label = label_of(seed, i)
    fa, fb = (draw.winner, draw.loser) if label == "A" else (draw.loser, draw.winner)
    pid = f"synth-{i:06d}"
    entries, paths = {}, {}
    for side, f in (("a", fa), ("b", fb)):
        spec = realise(f, draw.context, rng)
        paths[side] = img_dir / f"{pid}_{side}.png"
        render(spec, image_size).save(paths[side], format="PNG")
        entries[side] = {**f.as_dict(), "score": f.score(), "render": spec_summary(spec)}
    return CreativePair(
        id=pid,
        image_a=paths["a"],
        image_b=paths["b"],
        query=draw.context.query,
        title=draw.context.title,
        label=label,
        ctr_a=ctr_of(fa.score()),
        ctr_b=ctr_of(fb.score()),
        impressions_a=rng.randint(1200, 9000),
        impressions_b=rng.randint(1200, 9000),
        rationale=rationale(fa, fb, label),
        synthetic=True,
        extra={"factors": {"a": entries["a"], "b": entries["b"], "differ": list(draw.differ)}},
    )


def synthesize(n: int, out_dir: Path, seed: int = 0, image_size: int = 96, progress=None) -> Path:
    """Render ``n`` pairs into ``out_dir/img/*.png`` and write ``out_dir/pairs.jsonl``.

    Records are ``CreativePair`` with ``synthetic=True``, a label and a protocol-format teacher
    rationale; the hidden factors of both creatives are under ``extra["factors"]`` (``"a"``,
    ``"b"``, ``"differ"``). ``progress(done, total)`` is called every ~1% and at the end.
    Returns the path of the JSONL file.
    """
    return render_set(make_pair, n, out_dir, seed, image_size, progress)


def render_set(make, n: int, out_dir: Path, seed: int, image_size: int, progress=None) -> Path:
    """Pairs ``make(i, seed, img_dir, image_size)`` for i < ``n``, images under ``out_dir/img``, written to
    ``out_dir/pairs.jsonl`` at once; ``progress(done, total)`` every ~1% and at the end."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}")
    out_dir = Path(out_dir)
    img_dir = out_dir / IMAGE_DIR
    img_dir.mkdir(parents=True, exist_ok=True)
    step = max(1, n // 100)
    pairs = []
    for i in range(n):
        pairs.append(make(i, seed, img_dir, image_size))
        if progress is not None and ((i + 1) % step == 0 or i + 1 == n):
            progress(i + 1, n)
    path = out_dir / PAIRS_FILE
    write_pairs(pairs, path)
    return path


__all__ = ["synthesize", "render_set", "make_pair", "ctr_of", "label_of"]
