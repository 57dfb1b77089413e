"""Reward functions on hand-written completions: correct, wrong, missing tag, missing line, inconsistent."""

from __future__ import annotations

import pytest

from creative4u_small.contract import protocol
from creative4u_small.data.synth.factors import Factors
from creative4u_small.data.synth.rationale import rationale
from creative4u_small.distill.teacher.rewards import (
    REWARDS,
    accuracy_reward,
    consistency_reward,
    format_reward,
    text_consistency_reward,
)

ANSWERS = {"Q1": "no", "Q2": "no", "Q3": "A>B", "Q4": "A=B", "Q5": "A>B", "Q6": "A=B", "Q7": "A<B", "Q8": "A>B", "Q9": "A=B", "Q10": "A"}
CORRECT = protocol.teacher_completion("A", ANSWERS, "Creative A shows the product larger.")
WRONG = protocol.swap_teacher_completion(CORRECT)  # well-formed, consistent, answers B
NO_CLOSE = CORRECT.replace(protocol.THINK_CLOSE, "")
NO_OPEN = CORRECT.replace(protocol.THINK_OPEN, "")
MISSING_LINE = CORRECT.replace("Q5 text in image: A>B\n", "")
BAD_VOCAB = CORRECT.replace("Q5 text in image: A>B", "Q5 text in image: better")
INCONSISTENT = CORRECT.replace("<answer>A</answer>", "<answer>B</answer>").replace("Q10 more likely click: A", "Q10 more likely click: B")
Q10_CONTRADICTS = CORRECT.replace("Q10 more likely click: A", "Q10 more likely click: B")
TIE = protocol.teacher_completion("A", {**ANSWERS, **{k: "A=B" for k in protocol.COMPARISON_KEYS}})


def conv(text):
    return [{"role": "assistant", "content": text}]


def test_correct_completion_gets_full_rewards():
    assert format_reward([CORRECT]) == [1.0]
    assert accuracy_reward([CORRECT], label=["A"]) == [1.0]
    assert consistency_reward([CORRECT]) == [1.0]


def test_conversational_completions_are_read():
    assert format_reward([conv(CORRECT)]) == [1.0]
    assert accuracy_reward([conv(CORRECT)], label=["A"]) == [1.0]
    parts = [{"role": "assistant", "content": [{"type": "text", "text": CORRECT}]}]
    assert consistency_reward([parts]) == [1.0]


def test_wrong_answer():
    assert accuracy_reward([WRONG], label=["A"]) == [0.0]
    assert format_reward([WRONG]) == [1.0]
    assert consistency_reward([WRONG]) == [1.0]


def test_missing_tag():
    fmt = format_reward([NO_CLOSE, NO_OPEN])
    assert fmt[1] == 0.0
    assert 0.0 < fmt[0] < 1.0  # opened and protocol lines right, but never closed
    assert accuracy_reward([NO_CLOSE, NO_OPEN], label=["A", "A"]) == [0.0, 0.0]
    assert consistency_reward([NO_CLOSE, NO_OPEN]) == [0.0, 0.0]


def test_missing_or_out_of_vocabulary_protocol_line():
    fmt = format_reward([MISSING_LINE, BAD_VOCAB])
    assert fmt[0] == pytest.approx(1.0 - 0.5 / 9)
    assert fmt[1] == pytest.approx(1.0 - 0.5 / 9)
    assert accuracy_reward([MISSING_LINE], label=["A"]) == [1.0]


def test_inconsistent_answer():
    assert format_reward([INCONSISTENT]) == [1.0]
    assert consistency_reward([INCONSISTENT, Q10_CONTRADICTS]) == [0.0, 0.0]
    assert consistency_reward([TIE]) == [0.5]


def test_no_label_gives_none_and_trl_signature():
    assert accuracy_reward([CORRECT, WRONG], label=[None, "B"]) == [None, 1.0]
    out = {name: fn(prompts=[[], []], completions=[CORRECT, garbage], completion_ids=[[], []], label=["A", "A"], order=["AB", "BA"])
           for name, fn in REWARDS.items() for garbage in ["nonsense"]}
    assert out == {"format": [1.0, 0.0], "accuracy": [1.0, 0.0], "consistency": [1.0, 0.0], "text_consistency": [None, 0.0]}


def test_text_consistency_rewards_reasoning_that_says_what_the_lines_say():
    fa, fb = Factors(1, 0, 1, 0, 1, 1, 1, 1), Factors(0, 1, 1, 1, 1, 1, 1, 1)
    true = rationale(fa, fb, "A")  # Q7 A<B, Q8 A>B, Q9 A<B; a sentence for each
    assert text_consistency_reward([true, conv(true)]) == [1.0, 1.0]
    # the inconsistency this reward targets: Q9 written as A=B while the text says Creative B's background is plain
    q9 = true.replace("Q9 background: A<B", "Q9 background: A=B")
    two = q9.replace("Q7 layout: A<B", "Q7 layout: A>B")
    wrong_end = true.replace("On balance Creative A", "On balance Creative B")
    contradiction = true.replace("Creative B centres the product; Creative A", "Creative B centres the product; Creative B")
    assert text_consistency_reward([q9, two, wrong_end, contradiction]) == [7 / 8, 6 / 8, 7 / 8, 0.0]
    assert text_consistency_reward([CORRECT, "nonsense"]) == [None, 0.0]  # free text no template covers: no signal
