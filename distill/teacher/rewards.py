"""GRPO reward functions for the teacher format: format, accuracy, consistency, text consistency.

Each follows trl's custom reward signature ``f(completions, **kwargs) -> list[float | None]``:
``completions`` are strings or conversational messages, dataset columns (``label``) arrive as
keyword lists. Every score comes from ``protocol``'s strict parser, so a reward can never be
earned by output the rest of the pipeline would reject.
"""

from __future__ import annotations

from creative4u_small.contract import protocol
from creative4u_small.data.synth.rationale import implied_answers, read_reasoning

N_PROTOCOL_LINES = len(protocol.QUESTIONS) - 1  # Q1–Q9; Q10 is the answer itself


def completion_text(completion) -> str:
    """The generated text of a plain or conversational (``[{"role", "content"}]``) completion."""
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion:
        content = message.get("content", "")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts += [c.get("text") or "" for c in content if c.get("type") == "text"]
    return "".join(parts)


def format_score(text: str) -> float:
    """1 for ``<think>`` + valid Q1–Q9 lines + ``</think><answer>A|B</answer>``; partial credit otherwise.

    0 unless the text opens with ``<think>``; then 0.25, plus 0.25 when the strict parser accepts
    the whole completion, plus 0.5 × the share of Q1–Q9 lines answered in the protocol
    vocabulary. The partial credit gives GRPO a gradient from a teacher that is still learning
    the format.
    """
    text = text.strip()
    if not text.startswith(protocol.THINK_OPEN):
        return 0.0
    end = text.find(protocol.THINK_CLOSE)
    answers, _ = protocol.parse_protocol(text[len(protocol.THINK_OPEN): end if end >= 0 else len(text)])
    valid = N_PROTOCOL_LINES - len(protocol.protocol_errors(answers))
    well_formed = not isinstance(protocol.parse_teacher(text), protocol.ParseError)
    return 0.25 + 0.25 * well_formed + 0.5 * valid / N_PROTOCOL_LINES


def accuracy_score(text: str, label: str | None) -> float | None:
    """1 when the parsed answer equals the label, 0 when it differs or does not parse; None without a label."""
    if label is None:
        return None
    parsed = protocol.parse_teacher(text)
    return float(not isinstance(parsed, protocol.ParseError) and parsed.verdict == label)


def consistency_score(text: str) -> float:
    """Whether the answer follows from the reasoning.

    1 when the Q3–Q9 comparisons favour the answered creative on balance (and a Q10 line, if
    written, names it too); 0.5 when the comparisons are balanced; 0 when they favour the other
    creative, Q10 contradicts the answer, or the text does not parse.
    """
    parsed = protocol.parse_teacher(text)
    if isinstance(parsed, protocol.ParseError):
        return 0.0
    if not protocol.q10_agrees(parsed):
        return 0.0
    balance = protocol.protocol_balance(parsed.answers)
    if balance is None:
        return 0.5
    return float(balance == parsed.verdict)


def text_consistency_score(text: str) -> float | None:
    """Whether the free reasoning says what the protocol lines say (template-written reasoning).

    The sentences are read back with ``synth.rationale.read_reasoning``; the factor differences
    they state imply Q3–Q9 (``implied_answers``). Score: the share of those seven lines equal to
    the written ones, with the closing sentence naming the answer as an eighth check; 0 for a
    sentence that contradicts itself or an earlier one, or for text that does not parse. None
    (no reward signal) when a sentence matches no template: such text cannot be checked exactly.
    """
    parsed = protocol.parse_teacher(text)
    if isinstance(parsed, protocol.ParseError):
        return 0.0
    reading = read_reasoning(parsed.reasoning)
    if reading.unknown:
        return None
    if reading.conflicts:
        return 0.0
    implied = implied_answers(reading.diffs)
    hits = sum(parsed.answers.get(k) == v for k, v in implied.items()) + (reading.conclusion == parsed.verdict)
    return hits / (len(implied) + 1)


def format_reward(completions, **kwargs) -> list[float]:
    return [format_score(completion_text(c)) for c in completions]


def accuracy_reward(completions, label=None, **kwargs) -> list[float | None]:
    labels = label if label is not None else [None] * len(completions)
    return [accuracy_score(completion_text(c), lab) for c, lab in zip(completions, labels)]


def consistency_reward(completions, **kwargs) -> list[float]:
    return [consistency_score(completion_text(c)) for c in completions]


def text_consistency_reward(completions, **kwargs) -> list[float | None]:
    return [text_consistency_score(completion_text(c)) for c in completions]


REWARDS = {"format": format_reward, "accuracy": accuracy_reward, "consistency": consistency_reward,
           "text_consistency": text_consistency_reward}
