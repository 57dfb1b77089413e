"""Rationale metrics on hand-made outputs: strict parses, Q10, teacher/truth agreement, text consistency."""

from pathlib import Path

import pytest

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import CreativePair, TeacherLabel
from creative4u_small.data.synth.factors import FACTORS, Factors
from creative4u_small.data.synth.rationale import rationale
from creative4u_small.distill.evaluate.rationale_metrics import label_rationale_metrics, rationale_metrics, text_consistency

FA = Factors(1, 0, 1, 1, 1, 1, 1, 1)  # large product, busy background
FB = Factors(0, 1, 1, 1, 1, 1, 1, 1)


def _pair(i, teacher_text=None, synthetic=True):
    extra = {"factors": {"a": {f: getattr(FA, f) for f in FACTORS}, "b": {f: getattr(FB, f) for f in FACTORS}}}
    teacher = TeacherLabel(0.9, "A", [teacher_text] if teacher_text else [])
    return CreativePair(id=str(i), image_a=Path("a.png"), image_b=Path("b.png"), label="A", teacher=teacher,
                        synthetic=synthetic, extra=extra if synthetic else {})


def _student(teacher_text, verdict="A"):
    return protocol.student_completion(verdict, protocol.parse_teacher(teacher_text).rationale)


TRUE = rationale(FA, FB, "A")  # Q8 A>B, Q9 A<B, the rest A=B
# Q9 written as A=B while the text still says B's background is plain: the inconsistency the GRPO text-consistency reward targets
WRONG_Q9 = TRUE.replace("Q9 background: A<B", "Q9 background: A=B")


def test_true_rationale_is_consistent_and_a_contradiction_is_caught():
    ok = text_consistency(protocol.parse_teacher(TRUE))
    assert ok["consistent"] and ok["lines_matched"] == 7
    bad = text_consistency(protocol.parse_teacher(WRONG_Q9))
    assert not bad["consistent"] and bad["mismatched"] == ["Q9"] and bad["conclusion_ok"]


def test_rationale_metrics_counts_every_figure():
    pairs = [_pair(0, TRUE), _pair(1, TRUE), _pair(2, TRUE), _pair(3, None)]
    texts = [
        _student(TRUE),  # parses, agrees with teacher and truth, consistent
        _student(WRONG_Q9),  # parses; Q9 differs from teacher and truth; inconsistent
        "<answer>A</answer>\nQQQQQQQQQQQQ",  # does not parse
        _student(TRUE.replace("Q10 more likely click: A", "Q10 more likely click: B")),  # Q10 != verdict; no teacher
    ]
    m = rationale_metrics(pairs, texts, "auto")
    assert m["strict_parse_rate"] == pytest.approx(3 / 4)
    assert m["failure_reasons"] == {"no <think> after </answer>": 1}
    assert m["q10_equals_verdict"] == pytest.approx(2 / 3)
    t = m["teacher_agreement"]
    assert t["pairs"] == 2 and t["per_question"]["Q9"] == pytest.approx(0.5) and t["per_question"]["Q8"] == 1.0
    assert t["mean_q3_q9"] == pytest.approx((6 + 0.5) / 7) and t["all_lines_equal"] == pytest.approx(0.5)
    truth = m["truth_agreement"]
    assert truth["pairs"] == 3 and truth["per_question"]["Q9"] == pytest.approx(2 / 3)
    assert truth["per_question"]["Q10"] == pytest.approx(2 / 3)
    c = m["text_consistency"]
    assert c["pairs"] == 3 and c["rate"] == pytest.approx(2 / 3) and c["mismatches_per_question"]["Q9"] == 1
    assert c["checkable"] == 1.0 and c["line_rate"] == pytest.approx(20 / 21)
    unread = rationale_metrics([_pair(0)], [_student(TRUE.replace("On balance", "All in all"))], "student")
    assert unread["text_consistency"]["checkable"] == 0.0 and unread["text_consistency"]["line_rate"] is None
    with pytest.raises(ValueError):
        rationale_metrics(pairs, texts[:2], "student")


def test_non_synthetic_pairs_have_no_truth_or_template_check():
    m = rationale_metrics([_pair(0, TRUE, synthetic=False)], [TRUE], "teacher")
    assert m["strict_parse_rate"] == 1.0 and m["truth_agreement"] is None and "text_consistency" not in m


def test_label_metrics_read_the_kept_teacher_rationales():
    m = label_rationale_metrics([_pair(0, TRUE), _pair(1, WRONG_Q9), _pair(2, None)])
    assert m["coverage"] == pytest.approx(2 / 3) and m["strict_parse_rate"] == 1.0
    assert m["text_consistency"]["rate"] == pytest.approx(0.5) and "teacher_agreement" not in m
