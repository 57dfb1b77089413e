"""A noisy pairwise judge with a known hidden order, for measuring rank schedules without a model.

Item i has a hidden quality q_i; the judge answers P(i beats j) = sigmoid(q_i - q_j + e_ij), where
the logit error e_ij is drawn once per unordered pair (e_ji = -e_ij). A real judge errs the same
way every time it sees the same two images, so a schedule cannot average a pair's error away by
asking again, and two schedules run on one judge see the same verdict for every pair they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SimulatedJudgeConfig:
    n: int
    quality_sd: float = 1.0  # spread of hidden qualities (logits); ~N(0, quality_sd)
    noise_sd: float = 1.0  # sd of the per-pair logit error
    seed: int = 0

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.quality_sd <= 0 or self.noise_sd < 0:
            raise ValueError(f"quality_sd must be > 0 and noise_sd >= 0, got {self.quality_sd} and {self.noise_sd}")


@dataclass
class SimulatedJudge:
    """Callable comparator: a list of (i, j) in, P(i beats j) per pair out; counts pairs and calls."""

    config: SimulatedJudgeConfig
    quality: np.ndarray = field(init=False)
    calls: list[int] = field(default_factory=list)  # pairs per call, in call order

    def __post_init__(self):
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        self.quality = rng.normal(0.0, cfg.quality_sd, cfg.n)
        upper = np.triu(rng.normal(0.0, cfg.noise_sd, (cfg.n, cfg.n)), 1)
        self._error = upper - upper.T

    def __call__(self, pairs: Sequence[tuple[int, int]]) -> list[float]:
        self.calls.append(len(pairs))
        if not pairs:
            return []
        a = np.array([p[0] for p in pairs], dtype=np.int64)
        b = np.array([p[1] for p in pairs], dtype=np.int64)
        logit = self.quality[a] - self.quality[b] + self._error[a, b]
        return [float(x) for x in 1.0 / (1.0 + np.exp(-logit))]

    def best(self, k: int) -> list[int]:
        """The k items of highest hidden quality, best first."""
        return [int(i) for i in np.argsort(-self.quality, kind="stable")[:k]]


def recovery(order: Sequence[int], truth: Sequence[int], k: int) -> float:
    """Share of the true top k found in the first k places of ``order`` (1.0 = all of them)."""
    return len(set(order[:k]) & set(truth[:k])) / k
