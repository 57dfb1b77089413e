"""Which pairs to compare when ranking a pool, and how to turn verdicts into an order.

Small pools play a full round robin (every unordered pair once; each compare already scores
both orders). Large pools play a few Swiss rounds — each item meets an item of similar standing
it has not met yet, standings refitted with Bradley–Terry after every round — to sort the field
coarsely, then challenge rounds until a budget of 1.5·n·log2(n) comparisons is spent: the
items whose side of the top_k cut (or the top-1 cut) is least sure meet their nearest unplayed
neighbours in the standing, so the games go where the top of the order is still in doubt.
Every round is one comparator call, which a model-backed comparator batches.
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
INFORMATIVE_GAP = 4.0  # logits: a challenge between items further apart is a foregone p > 0.98


@dataclass(frozen=True)
class Comparison:
    i: int
    j: int
    p_i: float  # probability that item i beats item j
    phase: str = "round-robin"  # "swiss" (played by the screening comparator) or "challenge"


@dataclass
class TournamentResult:
    order: list[int]  # best first
    scores: list[float]  # Bradley–Terry log-strength per item (input order)
    comparisons: list[Comparison]
    strategy: str  # "round-robin" or "swiss+challenge"
    rounds: int
    finalists: list[int] = field(default_factory=list)  # the first `leaders` of the final standing (every item for a round robin)


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
    """Screening rounds for everyone: half of log2(n) plus one, enough to sort the field coarsely."""
    return math.ceil(math.log2(max(n, 2)) / 2) + 1


def candidates_for(n: int, top_k: int) -> int:
    """Items challenged per round: few, since the least sure ones are picked afresh every round."""
    return min(n, max(4, top_k - 1))


BUDGET_FACTOR = 1.5  # comparisons per n·log2(n); benchmarks/rank_scale.py --budget-factor measures others


def budget_for(n: int) -> int:
    """Most comparisons for a pool of n: 1.5·n·log2(n), and never more than every pair."""
    return min(n * (n - 1) // 2, math.floor(BUDGET_FACTOR * n * math.log2(max(n, 2))))


def planned_comparisons(n: int, round_robin_max: int = 12, swiss_rounds: int | None = None,
                        budget: int | None = None) -> int:
    """Most comparisons ``run`` can make with these settings (for progress bars and budgets)."""
    if n <= round_robin_max:
        return n * (n - 1) // 2
    rounds = swiss_rounds if swiss_rounds is not None else swiss_rounds_for(n)
    return max(rounds * (n // 2), min(n * (n - 1) // 2, budget if budget is not None else budget_for(n)))


def _contested(standing: list[int], scores: list[float], log: list[Comparison], prior: float, cuts: list[int],
               count: int) -> list[int]:
    """The ``count`` items whose side of a cut (after place k, for each k in ``cuts``) is least sure:
    smallest distance from the cut in standard errors of the item's Bradley–Terry score."""
    n = len(standing)
    info = [prior * 0.25] * n  # Fisher information per score (the prior's virtual draws included)
    for c in log:
        d = 1.0 / (1.0 + math.exp(scores[c.j] - scores[c.i]))
        info[c.i] += d * (1 - d)
        info[c.j] += d * (1 - d)
    bounds = [0.5 * (scores[standing[k - 1]] + scores[standing[k]]) for k in cuts if k < n]

    def doubt(item: int) -> float:
        return min((abs(scores[item] - b) * math.sqrt(info[item]) for b in bounds), default=0.0)

    return sorted(standing, key=doubt)[:count]


def challenge_pairs(standing: Sequence[int], leaders: Sequence[int], played: set[frozenset], per_leader: int,
                    room: int, scores: Sequence[float] | None = None, max_gap: float = math.inf) -> list[tuple[int, int]]:
    """Each of ``leaders`` (in that order) meets its nearest unplayed items in ``standing`` (the
    one above before the one below), at most ``per_leader`` new games each and ``room`` in all; a
    pair is never listed twice. Opponents more than ``max_gap`` apart in ``scores`` are skipped:
    a verdict that sure teaches the scores almost nothing."""
    place = {item: r for r, item in enumerate(standing)}
    chosen: list[tuple[int, int]] = []
    seen = set(played)
    for a in leaders:
        r, got = place[a], 0
        for d in range(1, len(standing)):
            for s in (r - d, r + d):
                if got == per_leader or len(chosen) == room or not 0 <= s < len(standing):
                    continue
                if scores is not None and abs(scores[a] - scores[standing[s]]) > max_gap:
                    continue
                key = frozenset((a, standing[s]))
                if key not in seen:
                    seen.add(key)
                    chosen.append((a, standing[s]))
                    got += 1
            if got == per_leader or len(chosen) == room:
                break
    return chosen


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


def _standing(n: int, log: list[Comparison], prior: float) -> tuple[list[int], list[float]]:
    scores = bradley_terry.fit(n, ((c.i, c.j, c.p_i) for c in log), prior=prior)
    pool = sorted(range(n), key=lambda k: (-scores[k], k))
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
    budget: int | None = None,
    per_leader: int = 2,
) -> TournamentResult:
    """Rank ``n`` items with ``compare``; see the module docstring for the schedule.

    ``screen`` (default ``compare``) plays the Swiss rounds: a cheaper, coarser comparator is
    enough to sort the field, and the leaders' games are played with ``compare``. Each round is
    one call of the comparator, so a model-backed comparator can batch the whole round.
    """
    if n < 1:
        raise ValueError("ranking needs at least one item")
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    if per_leader < 1:
        raise ValueError("per_leader must be at least 1")
    log: list[Comparison] = []
    played: set[frozenset] = set()
    if n <= round_robin_max:
        _play(compare, round_robin_pairs(list(range(n))), log, played)
        order, scores = _standing(n, log, prior)
        return TournamentResult(order, scores, log, "round-robin", 1 if n > 1 else 0, list(range(n)))

    rounds = swiss_rounds if swiss_rounds is not None else swiss_rounds_for(n)
    if rounds < 1:
        raise ValueError("swiss_rounds must be at least 1")
    budget = budget if budget is not None else budget_for(n)
    leaders = candidates_for(n, top_k) if finalists is None else min(n, finalists)
    first = list(range(n))
    random.Random(seed).shuffle(first)  # round one: input order must not decide who meets whom
    half = n // 2
    screen = screen or compare
    _play(screen, [(first[k], first[k + half]) for k in range(half)], log, played, "swiss")
    played_rounds = 1
    for _ in range(rounds - 1):
        standing, _ = _standing(n, log, prior)
        _play(screen, swiss_pairs(standing, played), log, played, "swiss")
        played_rounds += 1
    standing, scores = _standing(n, log, prior)
    while len(log) < budget:
        contested = _contested(standing, scores, log, prior, sorted({1, top_k}), leaders)
        pairs = challenge_pairs(standing, contested, played, per_leader, budget - len(log), scores, INFORMATIVE_GAP)
        if not pairs:
            break
        _play(compare, pairs, log, played, "challenge")
        played_rounds += 1
        standing, scores = _standing(n, log, prior)
    return TournamentResult(standing, scores, log, "swiss+challenge", played_rounds, sorted(standing[:leaders]))
