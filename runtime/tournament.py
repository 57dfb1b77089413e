"""Which pairs to compare when ranking a pool, and how to turn verdicts into an order.

Small pools play a full round robin (every unordered pair once; each compare already scores
both orders). Large pools play Swiss rounds — each item meets an item of similar standing it
has not met yet, standings refitted with Bradley–Terry after every round — and then the
leaders play a round robin among themselves, so the top of the order rests on direct games.
The comparator is any callable that takes a list of (i, j) and returns P(i beats j) for each,
which keeps this module free of models and testable with a known hidden order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from creative4u_small.runtime import bradley_terry

Comparator = Callable[[list[tuple[int, int]]], Sequence[float]]


@dataclass(frozen=True)
class Comparison:
    i: int
    j: int
    p_i: float  # probability that item i beats item j
    phase: str = "round-robin"  # or "swiss" (played by the screening comparator)


@dataclass
class TournamentResult:
    order: list[int]  # best first
    scores: list[float]  # Bradley–Terry log-strength per item (input order)
    comparisons: list[Comparison]
    strategy: str  # "round-robin" or "swiss+round-robin"
    rounds: int
    finalists: list[int] = field(default_factory=list)


def round_robin_pairs(items: Sequence[int], played: set[frozenset] | None = None) -> list[tuple[int, int]]:
    """Every unordered pair of ``items`` not yet played."""
    played = played or set()
    return [(a, b) for x, a in enumerate(items) for b in items[x + 1:] if frozenset((a, b)) not in played]


def swiss_pairs(standing: Sequence[int], played: set[frozenset]) -> list[tuple[int, int]]:
    """Pair neighbours in the standing (best first), skipping rematches; the last odd item sits out."""
    free = list(standing)
    pairs = []
    while len(free) > 1:
        a = free.pop(0)
        partner = next((b for b in free if frozenset((a, b)) not in played), None)
        if partner is None:
            continue
        free.remove(partner)
        pairs.append((a, partner))
    return pairs


def swiss_rounds_for(n: int) -> int:
    """Enough rounds for one unbeaten item to emerge in a noise-free pool, plus one."""
    return math.ceil(math.log2(max(n, 2))) + 1


def planned_comparisons(n: int, top_k: int = 1, round_robin_max: int = 12, swiss_rounds: int | None = None,
                        finalists: int | None = None) -> int:
    """Most comparisons ``run`` can make with these settings (for progress bars and budgets)."""
    if n <= round_robin_max:
        return n * (n - 1) // 2
    rounds = swiss_rounds if swiss_rounds is not None else swiss_rounds_for(n)
    k = min(n, finalists if finalists is not None else max(2 * top_k, 8))
    return rounds * (n // 2) + k * (k - 1) // 2


def _play(compare: Comparator, pairs: list[tuple[int, int]], log: list[Comparison], played: set[frozenset],
          phase: str = "round-robin") -> None:
    if not pairs:
        return
    probs = list(compare(pairs))
    if len(probs) != len(pairs):
        raise ValueError(f"comparator returned {len(probs)} results for {len(pairs)} pairs")
    for (i, j), p in zip(pairs, probs):
        log.append(Comparison(i, j, float(p), phase))
        played.add(frozenset((i, j)))


def _standing(n: int, log: list[Comparison], prior: float, among: Sequence[int] | None = None) -> tuple[list[int], list[float]]:
    scores = bradley_terry.fit(n, ((c.i, c.j, c.p_i) for c in log), prior=prior)
    pool = list(range(n)) if among is None else list(among)
    pool.sort(key=lambda k: (-scores[k], k))
    return pool, [float(s) for s in scores]


def run(
    n: int,
    compare: Comparator,
    top_k: int = 1,
    round_robin_max: int = 12,
    swiss_rounds: int | None = None,
    finalists: int | None = None,
    prior: float = 0.1,
    seed: int = 0,
    screen: Comparator | None = None,
) -> TournamentResult:
    """Rank ``n`` items with ``compare``; see the module docstring for the schedule.

    ``screen`` (default ``compare``) plays the Swiss rounds: a cheaper, coarser comparator is
    enough to find the leaders, whose round robin is played with ``compare``.
    """
    if n < 1:
        raise ValueError("ranking needs at least one item")
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    log: list[Comparison] = []
    played: set[frozenset] = set()
    if n <= round_robin_max:
        _play(compare, round_robin_pairs(list(range(n))), log, played)
        order, scores = _standing(n, log, prior)
        return TournamentResult(order, scores, log, "round-robin", 1 if n > 1 else 0, list(range(n)))

    rounds = swiss_rounds if swiss_rounds is not None else swiss_rounds_for(n)
    if rounds < 1:
        raise ValueError("swiss_rounds must be at least 1")
    first = list(range(n))
    random.Random(seed).shuffle(first)  # round one: input order must not decide who meets whom
    half = n // 2
    screen = screen or compare
    _play(screen, [(first[k], first[k + half]) for k in range(half)], log, played, "swiss")
    for _ in range(rounds - 1):
        standing, _ = _standing(n, log, prior)
        _play(screen, swiss_pairs(standing, played), log, played, "swiss")
    standing, _ = _standing(n, log, prior)
    k = min(n, finalists if finalists is not None else max(2 * top_k, 8))
    leaders = standing[:k]
    _play(compare, round_robin_pairs(leaders, played), log, played)
    top, scores = _standing(n, log, prior, among=leaders)
    rest, _ = _standing(n, log, prior, among=standing[k:])
    return TournamentResult(top + rest, scores, log, "swiss+round-robin", rounds + 1, sorted(leaders))
