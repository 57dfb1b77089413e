"""From verdict logits to probabilities: one reduction for the exporter's parity, the runtime and its probe.

Judge rows come pair-major in the two image orders, AB then BA; each row's logits are (first
shown wins, second shown wins). p_a = ½[p_AB(A) + p_BA(A)], as the Creative4U protocol scores
position bias away. Torch-free.
"""

from __future__ import annotations

import numpy as np


def softmax_first(logits: np.ndarray) -> np.ndarray:
    """P(the creative shown first wins) per row of [rows, 2] verdict logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(-1, keepdims=True))
    return z[:, 0] / z.sum(-1)


def p_a_orders(logits: np.ndarray) -> np.ndarray:
    """[P, 2] P(the pair's Creative A wins) as shown AB and as shown BA, from [P * 2, 2] logits."""
    p = softmax_first(logits).reshape(-1, 2)
    return np.stack([p[:, 0], 1.0 - p[:, 1]], -1)


def p_a(logits: np.ndarray) -> np.ndarray:
    """[P] the mean over both orders of P(Creative A wins)."""
    return p_a_orders(logits).mean(-1)
