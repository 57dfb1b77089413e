"""Learning-rate warm-up as a ratio of the run, rounded down.

transformers reads a float ``warmup_steps`` below 1 as a ratio but rounds it up, and its linear
warm-up starts at learning rate 0: a run of a few steps spends its first step, or its only one,
not learning. Where the step count is known the warm-up here is ``floor(ratio × steps)``.
"""

from __future__ import annotations


def warmup_steps(ratio: float, max_steps: int) -> float | int:
    """The ``warmup_steps`` argument for a run of ``max_steps`` (-1: epochs, left to transformers as a ratio)."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"warmup_ratio must be in [0, 1), got {ratio}")
    return int(ratio * max_steps) if max_steps > 0 else ratio
