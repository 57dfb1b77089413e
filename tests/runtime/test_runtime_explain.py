"""The runtime's parsed explanation: protocol lines as data, or a clear unparsed flag with the raw text."""

from __future__ import annotations

from creative4u_small.cli.runtime import explanation_text
from creative4u_small.contract import protocol
from creative4u_small.runtime.explain import explanation

ANSWERS = {"Q1": "no", "Q2": "no", "Q3": "A=B", "Q4": "A=B", "Q5": "A>B", "Q6": "A=B", "Q7": "A<B", "Q8": "A>B",
           "Q9": "A=B", "Q10": "A"}
RATIONALE = f"<think>\n{protocol.render_protocol(ANSWERS)}\nCreative A shows the product large and clear.\n</think>"


def test_a_complete_rationale_parses_into_the_protocol():
    ex = explanation(RATIONALE, "A")
    assert ex.parsed and ex.error is None and ex.answers == ANSWERS and ex.q10_matches_verdict
    assert ex.reasoning == "Creative A shows the product large and clear."
    assert [r[0] for r in ex.rows()] == [q.key for q in protocol.QUESTIONS]
    d = ex.to_dict()
    assert d["protocol"] == ANSWERS and d["parsed"] and d["text"] == RATIONALE
    assert explanation(RATIONALE, "B").q10_matches_verdict is False


def test_malformed_rationales_are_flagged_with_their_raw_text():
    for text, why in [("QQQQQQQQQQQQQQQQ", "no <think>"), (RATIONALE[:60], "no </think>"),
                      (RATIONALE.replace("Q8 product subject: A>B\n", ""), "Q8 missing"), ("", "no <think>")]:
        ex = explanation(text, "A")
        assert not ex.parsed and why in ex.error and ex.text == text and ex.answers == {}
        assert ex.to_dict()["protocol"] is None and ex.q10_matches_verdict is None


def test_select_table_lists_every_question_and_flags_q10():
    table = explanation_text(explanation(RATIONALE, "A"))
    lines = table.splitlines()
    assert lines[0].startswith("question") and "Q9 background" in table and lines[-1].startswith("Creative A")
    assert any(line.startswith("Q10 more likely click") and line.endswith("A") for line in lines)
    assert "note:" not in table
    assert "note: Q10 names A but the verdict is B" in explanation_text(explanation(RATIONALE, "B"))
    raw = explanation_text(explanation("QQQQ", "A"))
    assert raw.startswith("rationale unparsed: no <think>") and raw.endswith("QQQQ")
