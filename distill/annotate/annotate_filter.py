"""The strict filter for annotated rationales: it must parse, answer with the label, and Q10 must agree.

Rationalisation (the annotator is told the winner) makes the label easy to echo; what the filter
buys is the format: every protocol line present with an allowed value, Q10 equal to the answer,
nothing outside ``<think>…</think><answer>X</answer>``. A rejection is a one-line reason whose
first word (before ``:``) is its category, so reports can count them.
"""

from __future__ import annotations

from creative4u_small.contract import protocol

CATEGORIES = ("malformed", "protocol", "answer", "q10")


def rejection(text: str, winner: str) -> str | None:
    """Why ``text`` is not an acceptable rationale for a pair won by ``winner`` (in the order shown); None if it is."""
    parsed = protocol.parse_teacher(text or "")
    if isinstance(parsed, protocol.ParseError):
        return f"malformed: {parsed.reason}"
    errors = protocol.protocol_errors(parsed.answers)
    if errors:
        return f"protocol: {'; '.join(errors[:3])}"
    if parsed.verdict != winner:
        return f"answer: answered {parsed.verdict}, the label is {winner}"
    q10 = parsed.answers.get("Q10")
    if q10 is None:
        return "q10: Q10 line missing"
    if q10 != parsed.verdict:
        return f"q10: Q10 says {q10!r}, the answer is {parsed.verdict}"
    return None


def category(reason: str) -> str:
    return reason.split(":", 1)[0]
