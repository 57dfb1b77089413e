"""Settings of `c4u data synth`: how many synthetic pairs, where, from which seed, at what size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.settings import setting


@dataclass(frozen=True)
class SynthConfig:
    out: Path = setting(help="Output folder (pairs.jsonl + img/).")
    n: int = setting(200, "Number of pairs to render.")
    seed: int = setting(0, "Random seed; the same seed gives the same files.")
    image_size: int = setting(96, "Creative side length in pixels (32 or more).")
    overwrite: bool = setting(False, "Replace an existing output folder.")

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be at least 32 pixels, got {self.image_size}")
