import pytest

from creative4u_small.contract import protocol as P


def answers(verdict="A", comp="A>B"):
    a = {k: comp for k in P.COMPARISON_KEYS}
    a.update(Q1="no", Q2="no", Q10=verdict)
    return a


def test_prompt_has_every_question_and_two_images():
    text = P.prompt_text("  red   shoe ", "Leather\tshoe")
    assert text.count(P.IMAGE_TOKEN) == 2
    assert "Query: red shoe\nTitle: Leather shoe\n" in text
    for q in P.QUESTIONS:
        assert f"{q.key} {q.label}" in text
    msgs = P.prompt_messages("q", "t")
    assert [c["type"] for c in msgs[0]["content"]] == ["text", "image", "text", "image", "text"]


def test_empty_slots_render_without_trailing_space():
    assert "Query:\nTitle:\n" in P.prompt_text("", None)


@pytest.mark.parametrize("verdict", ["A", "B"])
def test_teacher_round_trip(verdict):
    text = P.teacher_completion(verdict, answers(verdict), "Creative A shows the product larger.")
    parsed = P.parse_teacher(text)
    assert parsed and parsed.verdict == verdict
    assert parsed.answers == answers(verdict)
    assert parsed.reasoning == "Creative A shows the product larger."


@pytest.mark.parametrize("verdict", ["A", "B"])
def test_student_round_trip(verdict):
    rationale = P.teacher_completion(verdict, answers(verdict)).split(P.ANSWER_OPEN)[0]
    text = P.student_completion(verdict, rationale)
    assert text.startswith(f"<answer>{verdict}</answer>")
    parsed = P.parse_student(text)
    assert parsed and parsed.verdict == verdict and parsed.answers["Q3"] == "A>B"


@pytest.mark.parametrize("bad", [
    "", "<answer>A</answer>", "<think>x</think>", "<think>x<answer>A</answer>",
    "<think>x</think><answer>C</answer>", "<think>x</think><answer>A</answer><answer>B</answer>",
    "<think>x</think><answer>A</answer> trailing", "A",
])
def test_teacher_parser_rejects_malformed(bad):
    parsed = P.parse_teacher(bad)
    assert isinstance(parsed, P.ParseError) and not parsed and parsed.reason


@pytest.mark.parametrize("bad", ["", "A", "<answer>AB</answer>", "text <answer>A</answer>", "<answer>a</answer>"])
def test_student_parser_rejects_malformed(bad):
    assert isinstance(P.parse_student(bad), P.ParseError)


def test_protocol_checks_and_balance():
    a = answers("A")
    assert P.protocol_errors(a) == []
    del a["Q5"]
    a["Q6"] = "A>>B"
    errors = P.protocol_errors(a)
    assert any("Q5" in e for e in errors) and any("Q6" in e for e in errors)
    assert P.protocol_balance(answers("A", "A>B")) == "A"
    assert P.protocol_balance(answers("B", "A<B")) == "B"
    assert P.protocol_balance(answers("A", "A=B")) is None
    with pytest.raises(ValueError):
        P.render_protocol({"Q1": "no"})


def test_swap_flips_everything_and_is_an_involution():
    a = answers("A")
    a["Q9"] = "A<B"
    text = P.teacher_completion("A", a, "Creative A is clearer than Creative B.")
    swapped = P.swap_teacher_completion(text)
    parsed = P.parse_teacher(swapped)
    assert parsed.verdict == "B" and parsed.answers["Q3"] == "A<B" and parsed.answers["Q9"] == "A>B"
    assert parsed.reasoning == "Creative B is clearer than Creative A."
    assert P.swap_teacher_completion(swapped) == text


class _Tok:
    """A tokenizer stub with a fixed vocabulary, to test the verdict-token check itself."""

    def __init__(self, table):
        self.table = table

    def encode(self, text, add_special_tokens=False):
        return self.table[text]


def test_verdict_tokens_must_be_single_tokens():
    ok = _Tok({"<answer>": [1, 2], "<answer>A": [1, 2, 7], "<answer>B": [1, 2, 8]})
    assert P.verdict_token_ids(ok) == (7, 8)
    two = _Tok({"<answer>": [1, 2], "<answer>A": [1, 2, 7, 9], "<answer>B": [1, 2, 8]})
    with pytest.raises(P.VerdictTokenError):
        P.verdict_token_ids(two)
    merged = _Tok({"<answer>": [1, 2], "<answer>A": [1, 5], "<answer>B": [1, 2, 8]})
    with pytest.raises(P.VerdictTokenError):
        P.verdict_token_ids(merged)


def _lines(**over):
    answers = {"Q1": "no", "Q2": "no", **{k: "A>B" for k in P.COMPARISON_KEYS}, "Q10": "A", **over}
    return P.render_protocol(answers)


def test_parse_strict_accepts_complete_explanations_only():
    teacher = f"<think>\n{_lines()}\nCreative A wins.\n</think><answer>A</answer>"
    student = f"<answer>A</answer>\n<think>\n{_lines()}\n</think>"
    assert P.parse_strict(teacher, "teacher").answers["Q9"] == "A>B"
    assert P.parse_strict(student, "student").verdict == "A"
    # Q10 may disagree with the answer: parsed, and measured elsewhere
    assert P.parse_strict(f"<answer>B</answer>\n<think>\n{_lines()}\n</think>", "student").answers["Q10"] == "A"
    bad = {
        "<answer>A</answer>\nQQQQQQQQ": "no <think>",
        "<answer>A</answer>\n<think>\nQ1 same image: no": "no </think>",
        f"<answer>A</answer>\n<think>\n{_lines()}\n</think> more": "text after",
        f"<answer>A</answer>\n<think>\n{_lines().replace('Q7 layout: A>B', 'Q7 layout: A>>B')}\n</think>": "Q7",
        f"<answer>A</answer>\n<think>\n{_lines().replace(chr(10) + 'Q10 more likely click: A', '')}\n</think>": "Q10 missing",
    }
    for text, reason in bad.items():
        r = P.parse_strict(text, "student")
        assert isinstance(r, P.ParseError) and reason in r.reason, (text, r)
    with pytest.raises(ValueError):
        P.parse_strict(student, "auto")


def test_sentences_split_at_sentence_ends():
    assert P.sentences(" One. Two!  Three?\nFour") == ["One.", "Two!", "Three?", "Four"]
    assert P.sentences("") == []
