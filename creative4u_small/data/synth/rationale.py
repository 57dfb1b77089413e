"""The protocol-format teacher rationale of a synthetic pair, derived from its hidden factors.

Each comparison question reads the factors behind it (Q3 query relevance <- category and colour
match, Q4 title relevance <- category match, Q5 text in image <- readable text and CTA, Q6 models
and props <- clutter, Q7 layout <- centring, Q8 product subject <- size, Q9 background <- plain
vs busy). Free reasoning names "Creative A"/"Creative B" so ``protocol.swap_reasoning`` can
rewrite it for the reversed order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from creative4u_small.contract.protocol import sentences, teacher_completion
from creative4u_small.data.synth.factors import FACTORS, WEIGHTS, Factors

# Question key -> the factors it reads, with their weights inside the question.
QUESTION_FACTORS: dict[str, dict[str, float]] = {
    "Q3": {"category_match": 1.0, "colour_match": 1.0},
    "Q4": {"category_match": 1.0},
    "Q5": {"readable_text": 1.0, "cta": 0.4},
    "Q6": {"uncluttered": 1.0},
    "Q7": {"centred": 1.0},
    "Q8": {"large_product": 1.0},
    "Q9": {"plain_background": 1.0},
}

# Sentence per factor: {good} has the better value, {bad} the worse.
SENTENCES: dict[str, str] = {
    "large_product": "Creative {good} shows the product large and clear, while in Creative {bad} it is small.",
    "plain_background": "Creative {good} has a plain background; the busy pattern behind Creative {bad} competes with the product.",
    "readable_text": "The headline of Creative {good} is easy to read; in Creative {bad} the text has little contrast.",
    "centred": "Creative {good} centres the product; Creative {bad} pushes it off the edge.",
    "uncluttered": "Creative {bad} is cluttered with props that distract from the product; Creative {good} is clean.",
    "cta": "Creative {good} has a call-to-action button and Creative {bad} has none.",
    "colour_match": "The product in Creative {good} has the colour the shopper asked for; Creative {bad} shows another colour.",
    "category_match": "Creative {good} shows the kind of product in the query and title; Creative {bad} shows a different product.",
}
CONCLUSION = "On balance Creative {verdict} is more likely to be clicked."


def compare(a: float, b: float) -> str:
    return "A>B" if a > b else "A<B" if a < b else "A=B"


def answers(fa: Factors, fb: Factors, verdict: str) -> dict[str, str]:
    """Q1-Q10 protocol answers for creatives with factors ``fa`` (A) and ``fb`` (B)."""
    out = {"Q1": "no", "Q2": "no"}
    for key, parts in QUESTION_FACTORS.items():
        sa = sum(w * getattr(fa, f) for f, w in parts.items())
        sb = sum(w * getattr(fb, f) for f, w in parts.items())
        out[key] = compare(sa, sb)
    out["Q10"] = verdict
    return out


def reasoning(fa: Factors, fb: Factors, verdict: str) -> str:
    """One sentence per differing factor, strongest first, then the conclusion."""
    lines = []
    for f in sorted(FACTORS, key=lambda k: -WEIGHTS[k]):
        a, b = getattr(fa, f), getattr(fb, f)
        if a != b:
            good, bad = ("A", "B") if a > b else ("B", "A")
            lines.append(SENTENCES[f].format(good=good, bad=bad))
    lines.append(CONCLUSION.format(verdict=verdict))
    return " ".join(lines)


def rationale(fa: Factors, fb: Factors, verdict: str) -> str:
    """``<think>Q1..Q10 lines + reasoning</think><answer>verdict</answer>``."""
    return teacher_completion(verdict, answers(fa, fb, verdict), reasoning(fa, fb, verdict))


# ---------------------------------------------------------------- reading the templates back


def _template_re(template: str) -> re.Pattern:
    pattern = re.escape(template)
    for name in ("good", "bad", "verdict"):
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[AB])")
    return re.compile(pattern)


_SENTENCE_RES = {f: _template_re(t) for f, t in SENTENCES.items()}
_CONCLUSION_RE = _template_re(CONCLUSION)


@dataclass(frozen=True)
class Reading:
    """What free reasoning written from the templates says.

    ``diffs``: factor -> +1 (Creative A has the better value) or -1 (B); factors without a
    sentence are equal. ``conclusion``: the creative of the closing sentence. ``unknown``:
    sentences no template matches; ``conflicts``: sentences naming one creative as both good and
    bad, or a factor stated twice with opposite sides.
    """

    diffs: dict[str, int] = field(default_factory=dict)
    conclusion: str | None = None
    unknown: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()


def read_reasoning(text: str) -> Reading:
    """Invert ``reasoning``: which factors the sentences say differ, and in whose favour."""
    diffs: dict[str, int] = {}
    conclusion, unknown, conflicts = None, [], []
    for sentence in sentences(text):
        m = _CONCLUSION_RE.fullmatch(sentence)
        if m:
            if conclusion is not None and conclusion != m.group("verdict"):
                conflicts.append(sentence)
            conclusion = m.group("verdict")
            continue
        hit = next(((f, m) for f, r in _SENTENCE_RES.items() if (m := r.fullmatch(sentence))), None)
        if hit is None:
            unknown.append(sentence)
            continue
        factor, m = hit
        if m.group("good") == m.group("bad"):
            conflicts.append(sentence)
            continue
        side = 1 if m.group("good") == "A" else -1
        if diffs.get(factor, side) != side:
            conflicts.append(sentence)
        diffs[factor] = side
    return Reading(diffs, conclusion, tuple(unknown), tuple(conflicts))


def implied_answers(diffs: dict[str, int]) -> dict[str, str]:
    """Q3–Q9 as ``answers`` computes them from factor differences (+1: A better, -1: B, absent: equal)."""
    out = {}
    for key, parts in QUESTION_FACTORS.items():
        out[key] = compare(sum(w * diffs.get(f, 0) for f, w in parts.items()), 0.0)
    return out


def truth_answers(extra: dict, label: str) -> dict[str, str] | None:
    """Q1–Q10 from a synthetic record's hidden factors (``extra["factors"]``); None for other records."""
    facts = (extra or {}).get("factors")
    if not isinstance(facts, dict) or not all(isinstance(facts.get(s), dict) for s in ("a", "b")) or label is None:
        return None
    try:
        fa, fb = (Factors(**{f: int(facts[s][f]) for f in FACTORS}) for s in ("a", "b"))
    except (KeyError, TypeError, ValueError):
        return None
    return answers(fa, fb, label)

