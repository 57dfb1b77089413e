"""The Creative Evaluation Protocol: prompt, output formats, parsers and verdict tokens.

Single source of truth for every stage (teacher, labelling, distillation, export, runtime).
The runtime reads the tokenised form of the prompt from the export manifest, so nothing here
may import torch or transformers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VERDICTS = ("A", "B")
COMPARISONS = ("A>B", "A=B", "A<B")
YES_NO = ("yes", "no")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
IMAGE_TOKEN = "<image>"


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    allowed: tuple[str, ...]


QUESTIONS: tuple[Question, ...] = (
    Question("Q1", "same image", YES_NO),
    Question("Q2", "too similar", YES_NO),
    Question("Q3", "query relevance", COMPARISONS),
    Question("Q4", "title relevance", COMPARISONS),
    Question("Q5", "text in image", COMPARISONS),
    Question("Q6", "models and props", COMPARISONS),
    Question("Q7", "layout", COMPARISONS),
    Question("Q8", "product subject", COMPARISONS),
    Question("Q9", "background", COMPARISONS),
    Question("Q10", "more likely click", VERDICTS),
)
QUESTION_BY_KEY = {q.key: q for q in QUESTIONS}
COMPARISON_KEYS = tuple(q.key for q in QUESTIONS if q.allowed == COMPARISONS)

PROMPT_HEAD = "Compare two ad creatives for one shopper.\nQuery:"
PROMPT_TITLE = "\nTitle:"
PROMPT_IMAGE_A = "\nCreative A:"
PROMPT_IMAGE_B = "\nCreative B:"
PROMPT_TAIL = (
    "\nAnswer the protocol: "
    + ", ".join(f"{q.key} {q.label}" for q in QUESTIONS)
    + ". Reply as <think>one line per question</think><answer>A or B</answer>."
)


def clean_text(text: str | None) -> str:
    """Collapse whitespace so that prompt slots tokenise the same way in every stage."""
    return " ".join((text or "").split())


# Most tokens of a query or a title in the judge prompt when the export names no budget of its own
# (``PromptSpec.max_slot_tokens``): far above a search query's or a product title's length, and it bounds
# the judge's sequence, so its time and memory no longer grow with the text a caller sends.
SLOT_TOKEN_BUDGET = 64
SLOTS = ("query", "title")
SLOT_HELP = {"query": "The shopper's search query (their interest).", "title": "The product title."}


def echo(value, limit: int = 80) -> str:
    """``repr`` of user input for an error message, cut to ``limit`` characters (never the whole of a long text)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slot(text: str | None) -> str:
    """A prompt slot value: a leading space before non-empty text, nothing otherwise."""
    text = clean_text(text)
    return f" {text}" if text else ""


def prompt_parts(query: str | None, title: str | None) -> list[str]:
    """The user turn as text pieces; an ``IMAGE_TOKEN`` piece stands for each creative (A, B)."""
    return [
        PROMPT_HEAD + slot(query) + PROMPT_TITLE + slot(title) + PROMPT_IMAGE_A,
        IMAGE_TOKEN,
        PROMPT_IMAGE_B,
        IMAGE_TOKEN,
        PROMPT_TAIL,
    ]


def prompt_text(query: str | None, title: str | None) -> str:
    return "".join(prompt_parts(query, title))


def prompt_messages(query: str | None, title: str | None) -> list[dict]:
    """The user turn in the conversational shape of transformers chat templates and trl."""
    content = [
        {"type": "image"} if part == IMAGE_TOKEN else {"type": "text", "text": part}
        for part in prompt_parts(query, title)
    ]
    return [{"role": "user", "content": content}]


# ---------------------------------------------------------------- annotation prompt

TEACHER_PROMPT_VERSION = "teacher-v1"
"""The judge prompt above; bump it whenever PROMPT_* or the teacher format changes."""

ANNOTATION_PROMPT_VERSION = "annotate-v1"
"""The rationalisation prompt below; recorded in every annotated record (``annotation.prompt_version``)."""

ANNOTATION_HINT = "\nShoppers clicked Creative {winner} more often than the other creative. Explain that outcome from what the two images show."
ANNOTATION_FORMAT = (
    "\nAnswer every protocol question on its own line, exactly in this form "
    "(pick one of the values after each colon), then one to three sentences of reasoning that "
    "name Creative A and Creative B, then the answer:\n"
    + THINK_OPEN + "\n"
    + "\n".join(f"{q.key} {q.label}: {'|'.join(q.allowed)}" for q in QUESTIONS)
    + "\n<reasoning>\n" + THINK_CLOSE + ANSWER_OPEN + "{winner}" + ANSWER_CLOSE
    + "\nQ10 and the answer must both be {winner}. Write nothing before " + THINK_OPEN + " or after " + ANSWER_CLOSE + "."
)


def annotation_parts(query: str | None, title: str | None, winner: str) -> list[str]:
    """The teacher prompt told which creative won, with the output format spelled out.

    A strong general MLLM does not know the teacher format, so the line shapes and allowed
    values are written out; the images sit where the teacher prompt has them.
    """
    _check_verdict(winner)
    parts = prompt_parts(query, title)
    parts[-1] = ANNOTATION_HINT.format(winner=winner) + ANNOTATION_FORMAT.format(winner=winner)
    return parts


def annotation_messages(query: str | None, title: str | None, winner: str) -> list[dict]:
    content = [
        {"type": "image"} if part == IMAGE_TOKEN else {"type": "text", "text": part}
        for part in annotation_parts(query, title, winner)
    ]
    return [{"role": "user", "content": content}]


def completion_messages(text: str) -> list[dict]:
    return [{"role": "assistant", "content": [{"type": "text", "text": text}]}]


# ---------------------------------------------------------------- formats


def render_protocol(answers: dict[str, str]) -> str:
    """One line per protocol question, in protocol order."""
    missing = [q.key for q in QUESTIONS if q.key not in answers]
    if missing:
        raise ValueError(f"protocol answers miss {', '.join(missing)}")
    for q in QUESTIONS:
        if answers[q.key] not in q.allowed:
            raise ValueError(f"{q.key} answer {answers[q.key]!r} is not one of {q.allowed}")
    return "\n".join(f"{q.key} {q.label}: {answers[q.key]}" for q in QUESTIONS)


def teacher_completion(verdict: str, answers: dict[str, str], reasoning: str = "") -> str:
    """Reason, then select: ``<think>protocol lines + reasoning</think><answer>X</answer>``."""
    _check_verdict(verdict)
    body = render_protocol(answers) + (f"\n{reasoning.strip()}" if reasoning.strip() else "")
    return f"{THINK_OPEN}\n{body}\n{THINK_CLOSE}{ANSWER_OPEN}{verdict}{ANSWER_CLOSE}"


def student_completion(verdict: str, rationale: str = "") -> str:
    """Select, then reason: the verdict is the first generated token after ``<answer>``."""
    _check_verdict(verdict)
    tail = f"\n{rationale.strip()}" if rationale.strip() else ""
    return f"{ANSWER_OPEN}{verdict}{ANSWER_CLOSE}{tail}"


def _check_verdict(verdict: str) -> None:
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Parsed:
    verdict: str
    answers: dict[str, str] = field(default_factory=dict)
    reasoning: str = ""
    rationale: str = ""


@dataclass(frozen=True)
class ParseError:
    reason: str
    text: str

    def __bool__(self) -> bool:  # a ParseError is never a usable verdict
        return False


_ANSWER_RE = re.compile(re.escape(ANSWER_OPEN) + r"\s*([AB])\s*" + re.escape(ANSWER_CLOSE))
_LINE_RE = re.compile(r"^(Q\d+)\s+([a-z ]+):\s*(\S+)\s*$")


def parse_protocol(think_body: str) -> tuple[dict[str, str], str]:
    """Protocol lines as ``{key: value}`` and the free reasoning that follows them."""
    answers, free = {}, []
    for line in think_body.strip().splitlines():
        m = _LINE_RE.match(line.strip())
        if m and m.group(1) in QUESTION_BY_KEY:
            answers[m.group(1)] = m.group(3)
        elif line.strip():
            free.append(line.strip())
    return answers, "\n".join(free)


def parse_teacher(text: str) -> Parsed | ParseError:
    """Strict parse of ``<think>…</think><answer>X</answer>``; anything else is a ParseError."""
    text = text.strip()
    if not text.startswith(THINK_OPEN):
        return ParseError("does not start with <think>", text)
    end = text.find(THINK_CLOSE)
    if end < 0:
        return ParseError("no </think>", text)
    rest = text[end + len(THINK_CLOSE):].strip()
    m = _ANSWER_RE.fullmatch(rest)
    if not m:
        return ParseError("no single <answer>A|B</answer> after </think>", text)
    body = text[len(THINK_OPEN):end]
    answers, reasoning = parse_protocol(body)
    return Parsed(m.group(1), answers, reasoning, f"{THINK_OPEN}{body}{THINK_CLOSE}")


def parse_student(text: str) -> Parsed | ParseError:
    """Strict parse of ``<answer>X</answer>`` followed by an optional rationale."""
    text = text.strip()
    m = _ANSWER_RE.match(text)
    if not m:
        return ParseError("does not start with <answer>A|B</answer>", text)
    rationale = text[m.end():].strip()
    answers, reasoning = {}, ""
    if rationale.startswith(THINK_OPEN) and THINK_CLOSE in rationale:
        answers, reasoning = parse_protocol(rationale[len(THINK_OPEN): rationale.find(THINK_CLOSE)])
    return Parsed(m.group(1), answers, reasoning, rationale)


def parse_strict(text: str, fmt: str) -> Parsed | ParseError:
    """A complete explanation: the format parses and every line Q1–Q10 is present and in vocabulary.

    ``fmt`` is ``"teacher"`` (``<think>…</think><answer>X</answer>``) or ``"student"``
    (``<answer>X</answer>`` then exactly one ``<think>…</think>`` block and nothing after it).
    Q10 must be a verdict letter but may differ from the answer; that is measured, not parsed.
    """
    if fmt not in ("teacher", "student"):
        raise ValueError(f"format must be teacher or student, got {fmt!r}")
    parsed = parse_teacher(text) if fmt == "teacher" else parse_student(text)
    if isinstance(parsed, ParseError):
        return parsed
    if fmt == "student":
        body = parsed.rationale
        if not body.startswith(THINK_OPEN):
            return ParseError("no <think> after </answer>", text)
        if THINK_CLOSE not in body:
            return ParseError("no </think> after the rationale", text)
        if body[body.find(THINK_CLOSE) + len(THINK_CLOSE):].strip():
            return ParseError("text after </think>", text)
    errors = protocol_errors(parsed.answers)
    q10 = parsed.answers.get("Q10")
    if q10 is None:
        errors.append("Q10 missing")
    elif q10 not in VERDICTS:
        errors.append(f"Q10 {q10!r} not in {VERDICTS}")
    if errors:
        return ParseError("protocol lines: " + "; ".join(errors), text)
    return parsed


_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """Free reasoning split into sentences (at ``.``, ``!`` or ``?`` followed by space)."""
    return [s.strip() for s in _SENTENCE_RE.split(clean_text(text)) if s.strip()]


def protocol_errors(answers: dict[str, str]) -> list[str]:
    """Every missing or out-of-vocabulary protocol line (Q1–Q9; Q10 is the answer itself)."""
    errors = []
    for q in QUESTIONS[:-1]:
        if q.key not in answers:
            errors.append(f"{q.key} missing")
        elif answers[q.key] not in q.allowed:
            errors.append(f"{q.key} {answers[q.key]!r} not in {q.allowed}")
    return errors


def q10_agrees(parsed: Parsed) -> bool:
    """Q10 names the answered creative (a text without a Q10 line agrees)."""
    return parsed.answers.get("Q10", parsed.verdict) == parsed.verdict


def protocol_balance(answers: dict[str, str]) -> str | None:
    """Which creative the Q3–Q9 comparisons favour on balance; None on a tie."""
    score = sum({"A>B": 1, "A<B": -1}.get(answers.get(k, ""), 0) for k in COMPARISON_KEYS)
    return "A" if score > 0 else "B" if score < 0 else None


# ---------------------------------------------------------------- order swap

_SWAP = {"A": "B", "B": "A", "A>B": "A<B", "A<B": "A>B"}
_CREATIVE_RE = re.compile(r"\b(Creative|creative) ([AB])\b")


def flip_verdict(verdict: str) -> str:
    _check_verdict(verdict)
    return _SWAP[verdict]


def swap_answers(answers: dict[str, str]) -> dict[str, str]:
    return {k: _SWAP.get(v, v) for k, v in answers.items()}


def swap_reasoning(text: str) -> str:
    """Rename "Creative A"/"Creative B" for the reversed image order."""
    return _CREATIVE_RE.sub(lambda m: f"{m.group(1)} {_SWAP[m.group(2)]}", text)


def swap_teacher_completion(text: str) -> str:
    """The same teacher completion written for the reversed image order."""
    parsed = parse_teacher(text)
    if isinstance(parsed, ParseError):
        raise ValueError(f"cannot swap a malformed completion: {parsed.reason}")
    swapped = swap_answers(parsed.answers)
    lines = [f"{q.key} {q.label}: {swapped[q.key]}" for q in QUESTIONS if q.key in swapped]
    if parsed.reasoning:
        lines.append(swap_reasoning(parsed.reasoning))
    body = "\n".join(lines)
    return f"{THINK_OPEN}\n{body}\n{THINK_CLOSE}{ANSWER_OPEN}{flip_verdict(parsed.verdict)}{ANSWER_CLOSE}"


# ---------------------------------------------------------------- verdict tokens


class VerdictTokenError(ValueError):
    """The tokenizer cannot give the verdict as one token after ``<answer>``."""


def verdict_token_ids(tokenizer) -> tuple[int, int]:
    """Token ids of ``A`` and ``B`` as they follow ``<answer>``; each must be exactly one token.

    Works with any tokenizer that has ``encode(text, add_special_tokens=False)`` (transformers)
    or ``encode(text, add_special_tokens=False).ids`` (tokenizers).
    """

    def ids(text: str) -> list[int]:
        out = tokenizer.encode(text, add_special_tokens=False)
        return list(getattr(out, "ids", out))

    prefix = ids(ANSWER_OPEN)
    result = []
    for v in VERDICTS:
        full = ids(ANSWER_OPEN + v)
        if full[: len(prefix)] != prefix or len(full) != len(prefix) + 1:
            raise VerdictTokenError(
                f"verdict {v!r} is not a single token after {ANSWER_OPEN!r} for this tokenizer; "
                "use a tokenizer where it is (the presets' tokenizers are) or add it as a token"
            )
        result.append(full[-1])
    if result[0] == result[1]:
        raise VerdictTokenError("verdicts A and B map to the same token id")
    return result[0], result[1]


def decision_token_ids(tokenizer) -> frozenset[int]:
    """Ids of the tokens that carry a protocol comparison's outcome (``>``, ``=``, ``<`` in ``A>B``…).

    These are the tokens of a teacher rationale that must be read off the images; the creative
    letters around them are template, and the verdict follows from the comparisons. CoT-SFT can
    weight them above the rest (``c4u teacher sft --decision-weight``).
    """

    def ids(text: str) -> set[int]:
        enc = tokenizer.encode(text, add_special_tokens=False)
        return set(getattr(enc, "ids", enc))

    letters = set().union(*(ids(p + v) for v in VERDICTS for p in ("", " ", ": ")))
    return frozenset(set().union(*(ids(p + c) for c in COMPARISONS for p in ("", " ", ": "))) - letters - ids(": ") - ids(":"))
