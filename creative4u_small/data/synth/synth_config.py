"""Settings of `c4u data synth`: how many synthetic pairs, where, from which seed, at what size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.settings import setting


KINDS = ("training", "shift")


@dataclass(frozen=True)
class SynthConfig:
    out: Path = setting(help="Output folder (pairs.jsonl + img/).")
    kind: str = setting("training", "training: labelled pairs with rationales from the renderer; shift: unlabelled pairs unlike "
                        "them (photo-like, text-dense, dark, saturated, other aspect ratios) to check INT8 against fp32 on.")
    n: int = setting(200, "Number of pairs to render.")
    seed: int = setting(0, "Random seed; the same seed gives the same files.")
    image_size: int = setting(96, "Creative side length in pixels (32 or more).")
    overwrite: bool = setting(False, "Replace an existing output folder.")

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be at least 32 pixels, got {self.image_size}")
