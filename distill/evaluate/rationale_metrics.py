"""Rationale metrics: does an explanation parse, agree with its verdict, its teacher and the truth?

Explanations are a product, so ``c4u eval --generate N`` measures them beside the verdicts, for a
teacher (reason, then select) and a student (select, then reason) alike:

- ``strict_parse_rate``: outputs that parse completely (``protocol.parse_strict``: the format, one
  ``<think>`` block, every line Q1–Q10 present and in vocabulary);
- ``q10_equals_verdict``: of the parsed, Q10 names the creative the output answered;
- ``teacher_agreement``: per question, the parsed line equals the line of the teacher's kept
  rationale for that pair (``teacher.rationales[0]``, written for the AB order, as the pair is
  generated); ``mean_q3_q9`` averages the seven comparison questions (Q1/Q2 are near constant
  and Q10 is the verdict, so they would flatter the mean);
- ``truth_agreement``: the same against the hidden factors of synthetic pairs
  (``synth.rationale.truth_answers``);
- ``text_consistency``: the free reasoning does not contradict the protocol lines.

How text consistency is checked. On synthetic data the reasoning is written from known sentence
templates (``synth.rationale.SENTENCES``), one sentence per differing factor plus a conclusion,
so it can be read back exactly: the sentences give the factor differences, the factor weights
per question give the Q3–Q9 lines they imply, and an output is consistent when every implied
line equals the written one, the conclusion names the answered creative, and no sentence is
unrecognised or self-contradicting. ``line_rate`` is the share of Q3–Q9 lines matched among the
outputs whose every sentence a template reads (``checkable``): with unread sentences the implied
lines are unknown, so they would match ``A=B`` lines by default.

In general (free text from a real annotator or model) no template exists. The check there
is a mapping from aspect words to questions (headline/text/call to action -> Q5, props/models
-> Q6, layout/centred -> Q7, product size/position -> Q8, background -> Q9, query/title ->
Q3/Q4) plus which creative each sentence favours; a sentence that favours a creative on a
question whose line says ``A=B`` or the opposite, or a conclusion naming the other creative, is
a contradiction. That reading is approximate (negation, comparatives), so its figure would be a
flag for review rather than an exact rate; it is not computed here.
"""

from __future__ import annotations

from collections import defaultdict

from creative4u_small.contract import protocol
from creative4u_small.data.synth.rationale import implied_answers, read_reasoning, truth_answers
from creative4u_small.distill.evaluate.eval_config import FORMATS


def _rate(flags) -> float | None:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def text_consistency(parsed: protocol.Parsed) -> dict:
    """Whether template-written reasoning matches the protocol lines (see the module docstring)."""
    reading = read_reasoning(parsed.reasoning)
    implied = implied_answers(reading.diffs)
    mismatched = [k for k in protocol.COMPARISON_KEYS if parsed.answers.get(k) != implied[k]]
    conclusion_ok = reading.conclusion == parsed.verdict
    return {
        "consistent": not mismatched and conclusion_ok and not reading.unknown and not reading.conflicts,
        "lines_matched": len(protocol.COMPARISON_KEYS) - len(mismatched),
        "mismatched": mismatched,
        "conclusion_ok": conclusion_ok,
        "unknown_sentences": len(reading.unknown),
        "conflicts": len(reading.conflicts),
    }


def _agreement(rows) -> dict:
    """Per question share of equal lines over (answers, reference) rows, and the Q3–Q9 mean."""
    per_q = {}
    for q in protocol.QUESTIONS:
        per_q[q.key] = _rate(a.get(q.key) == ref[q.key] for a, ref in rows if q.key in ref)
    comparisons = [per_q[k] for k in protocol.COMPARISON_KEYS if per_q[k] is not None]
    return {
        "pairs": len(rows),
        "per_question": per_q,
        "mean_q3_q9": sum(comparisons) / len(comparisons) if comparisons else None,
        "all_lines_equal": _rate(all(a.get(k) == v for k, v in ref.items()) for a, ref in rows),
    }


def teacher_answers(pair) -> dict[str, str] | None:
    """The protocol lines of the pair's kept teacher rationale, when it parses strictly."""
    if pair.teacher is None or not pair.teacher.rationales:
        return None
    parsed = protocol.parse_strict(pair.teacher.rationales[0], "teacher")
    return None if isinstance(parsed, protocol.ParseError) else parsed.answers


def output_format(text: str, fmt: str = "auto") -> str:
    """``fmt``, or for ``"auto"`` the format the text starts in (``<answer>``: student, else teacher)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be auto, student or teacher, got {fmt!r}")
    if fmt != "auto":
        return fmt
    return "student" if text.strip().startswith(protocol.ANSWER_OPEN) else "teacher"


def rationale_metrics(pairs, texts: list[str], fmt: str = "auto") -> dict:
    """Every rationale figure for outputs ``texts`` generated for ``pairs`` (AB order) in format ``fmt``."""
    if len(pairs) != len(texts):
        raise ValueError(f"{len(pairs)} pairs but {len(texts)} texts")
    parsed = [protocol.parse_strict(t, output_format(t, fmt)) for t in texts]
    reasons: dict[str, int] = defaultdict(int)
    for r in parsed:
        if isinstance(r, protocol.ParseError):
            reasons[r.reason.split(":")[0]] += 1
    ok = [(p, r) for p, r in zip(pairs, parsed) if not isinstance(r, protocol.ParseError)]
    teacher_rows = [(r.answers, ref) for p, r in ok if (ref := teacher_answers(p)) is not None]
    truth_rows = [(r.answers, ref) for p, r in ok if (ref := truth_answers(p.extra, p.label)) is not None]
    out = {
        "format": fmt,
        "outputs": len(texts),
        "strict_parse_rate": _rate(not isinstance(r, protocol.ParseError) for r in parsed),
        "failure_reasons": dict(reasons),
        "q10_equals_verdict": _rate(protocol.q10_agrees(r) for _, r in ok),
        "teacher_agreement": _agreement(teacher_rows) if teacher_rows else None,
        "truth_agreement": _agreement(truth_rows) if truth_rows else None,
    }
    synthetic = [(p, r) for p, r in ok if p.synthetic]
    if synthetic:
        checks = [text_consistency(r) for _, r in synthetic]
        checkable = [c for c in checks if not c["unknown_sentences"]]
        out["text_consistency"] = {
            "pairs": len(checks),
            "rate": _rate(c["consistent"] for c in checks),
            "checkable": _rate(not c["unknown_sentences"] for c in checks),
            "line_rate": (sum(c["lines_matched"] for c in checkable) / (len(checkable) * len(protocol.COMPARISON_KEYS))
                          if checkable else None),
            "conclusion_rate": _rate(c["conclusion_ok"] for c in checks),
            "with_unknown_sentences": _rate(c["unknown_sentences"] > 0 for c in checks),
            "mismatches_per_question": {k: sum(k in c["mismatched"] for c in checks) for k in protocol.COMPARISON_KEYS},
        }
    return out


def label_rationale_metrics(pairs) -> dict:
    """The same figures for the teacher's kept rationales in labelled records (no model needed).

    Labelling keeps only well-formed rationales that answer with the verdict, so ``coverage`` (the
    share of pairs with one) belongs beside the rates.
    """
    with_text = [p for p in pairs if p.teacher is not None and p.teacher.rationales]
    report = rationale_metrics(with_text, [p.teacher.rationales[0] for p in with_text], "teacher")
    report.pop("teacher_agreement")
    return {"coverage": len(with_text) / len(pairs) if pairs else None, **report}
