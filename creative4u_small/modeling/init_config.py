"""Settings of `c4u model init`: which offline preset, where, from which seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.settings import setting
from creative4u_small.modeling.presets import PRESETS


@dataclass(frozen=True)
class ModelInitConfig:
    preset: str = setting(help=f"One of: {', '.join(PRESETS)}.")
    out: Path = setting(help="Output folder (Hugging Face format).")
    seed: int = setting(0, "Initialisation seed.")
    overwrite: bool = setting(False, "Replace an existing folder.")

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of: {', '.join(PRESETS)}")
