"""Bradley–Terry scores from soft pairwise outcomes (penalised maximum likelihood).

Each comparison is (i, j, p) with p the probability that item i beats item j; p counts as a
fractional win, so the symmetric verdict p_a of a compare feeds in directly. A weak prior (every
item plays ``prior`` virtual draws against a unit-strength reference) keeps scores finite when an
item wins or loses everything and makes scores of items with no games 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def fit(n: int, comparisons: Iterable[tuple[int, int, float]], prior: float = 0.1, max_iter: int = 100, tol: float = 1e-9) -> np.ndarray:
    """Log-strengths (natural log, higher is better) of ``n`` items.

    Newton steps with backtracking on the concave penalised log-likelihood; each step is solved
    matrix-free by conjugate gradients, so pools of thousands of items stay cheap.
    """
    if n < 1:
        raise ValueError("Bradley–Terry needs at least one item")
    if prior <= 0:
        raise ValueError("prior must be > 0 so that unbeaten or winless items keep finite scores")
    rows = [(int(i), int(j), float(p)) for i, j, p in comparisons]
    for i, j, p in rows:
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f"comparison ({i}, {j}) does not name two different items among {n}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"comparison ({i}, {j}) has probability {p} outside [0, 1]")
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.int64)
    p = np.array([r[2] for r in rows], dtype=np.float64)
    theta = np.zeros(n)
    objective = _objective(theta, a, b, p, prior)
    for _ in range(max_iter):
        d = _sigmoid(theta[a] - theta[b])
        grad = np.bincount(a, p - d, n) - np.bincount(b, p - d, n) + prior * (0.5 - _sigmoid(theta))
        s = _sigmoid(theta)
        step = _solve_hessian(n, a, b, d * (1.0 - d), prior * s * (1.0 - s), grad)
        scale = 1.0
        while True:  # backtracking keeps every step an ascent step
            cand = theta + scale * step
            value = _objective(cand, a, b, p, prior)
            if value >= objective - 1e-12 or scale < 1e-6:
                break
            scale /= 2
        theta, objective = cand, value
        if np.max(np.abs(scale * step)) < tol:
            break
    return theta


def _solve_hessian(n, a, b, w, diag, g, rtol: float = 1e-12) -> np.ndarray:
    """Solve (weighted Laplacian + diag) x = g by Jacobi-preconditioned conjugate gradients.

    Matrix-free over the comparison list (O(comparisons) per iteration), so there is no dense
    n x n matrix and no multithreaded LAPACK call, which stalls on busy machines.
    """

    def apply(x):
        e = w * (x[a] - x[b])
        return np.bincount(a, e, n) - np.bincount(b, e, n) + diag * x

    inv = 1.0 / (np.bincount(a, w, n) + np.bincount(b, w, n) + diag)
    x = np.zeros(n)
    r = g.copy()
    z = inv * r
    d = z.copy()
    rz = r @ z
    stop = rtol * max(float(g @ g), 1e-300)
    for _ in range(10 * n + 10):
        if r @ r <= stop:
            break
        hd = apply(d)
        alpha = rz / (d @ hd)
        x += alpha * d
        r -= alpha * hd
        z = inv * r
        rz, rz_old = r @ z, rz
        d = z + (rz / rz_old) * d
    return x


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _objective(theta, a, b, p, prior) -> float:
    """Soft-outcome log-likelihood plus the virtual draws against a zero-score reference."""
    diff = theta[a] - theta[b]
    ll = np.sum(p * _log_sigmoid(diff) + (1.0 - p) * _log_sigmoid(-diff))
    return float(ll + prior * np.sum(0.5 * _log_sigmoid(theta) + 0.5 * _log_sigmoid(-theta)))
