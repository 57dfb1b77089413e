"""`c4u data annotate` with a local teacher (tiny preset), the strict filter, the prompt, and the CLI."""

from __future__ import annotations

import json

import pytest

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.distill.annotate.annotate import annotate_pairs, rejects_path, report_path, requests_for
from creative4u_small.distill.annotate.annotate_config import AnnotateConfig
from creative4u_small.distill.annotate.annotate_filter import CATEGORIES, category, rejection

ANSWERS = {"Q1": "no", "Q2": "no", "Q3": "A>B", "Q4": "A=B", "Q5": "A>B", "Q6": "A=B", "Q7": "A<B", "Q8": "A>B", "Q9": "A=B", "Q10": "A"}
GOOD_A = protocol.teacher_completion("A", ANSWERS, "Creative A shows the product larger.")


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def test_filter_accepts_only_a_complete_rationale_for_the_label():
    assert rejection(GOOD_A, "A") is None
    assert category(rejection(GOOD_A, "B")) == "answer"
    assert category(rejection("Creative A wins <answer>A</answer>", "A")) == "malformed"
    assert category(rejection(GOOD_A.replace("Q5 text in image: A>B\n", ""), "A")) == "protocol"
    assert category(rejection(GOOD_A.replace("Q4 title relevance: A=B", "Q4 title relevance: better"), "A")) == "protocol"
    assert category(rejection(GOOD_A.replace("Q10 more likely click: A", "Q10 more likely click: B"), "A")) == "q10"
    assert category(rejection(GOOD_A.replace("Q10 more likely click: A\n", ""), "A")) == "q10"
    assert category(rejection(GOOD_A + " trailing", "A")) == "malformed"
    assert category(rejection("", "A")) == "malformed"
    assert {category(rejection(t, "A")) for t in ("x", GOOD_A.replace("Q3", "Q33"))} <= set(CATEGORIES)


def test_annotation_prompt_is_versioned_names_the_winner_and_spells_out_the_format():
    text = "".join(protocol.annotation_parts("red shoes", "Trail shoe", "B"))
    assert protocol.ANNOTATION_PROMPT_VERSION != protocol.TEACHER_PROMPT_VERSION
    assert "Shoppers clicked Creative B more often" in text and "<answer>B</answer>" in text
    assert text.count(protocol.IMAGE_TOKEN) == 2 and text.startswith("".join(protocol.prompt_parts("red shoes", "Trail shoe")[:-1]))
    for q in protocol.QUESTIONS:
        assert f"{q.key} {q.label}: {'|'.join(q.allowed)}" in text
    with pytest.raises(ValueError):
        protocol.annotation_parts("q", "t", "C")


def test_requests_flip_the_winner_for_the_reversed_order(pairs_subset, tmp_path):
    pair = load_pairs(pairs_subset(2))[0]
    cfg = AnnotateConfig(pairs="p", out=str(tmp_path / "o.jsonl"), annotator="m", orders="both")
    ab, ba = requests_for(pair, cfg)
    assert (ab.first, ab.second, ab.winner) == (pair.image_a, pair.image_b, pair.label)
    assert (ba.first, ba.second, ba.winner) == (pair.image_b, pair.image_a, protocol.flip_verdict(pair.label))
    assert f"clicked Creative {ba.winner}" in "".join(c.get("text", "") for c in ba.messages()[0]["content"])


def test_config_refuses_bad_settings_with_clear_errors():
    base = {"pairs": "p", "out": "o.jsonl", "annotator": "m"}
    for kw, msg in (
        ({"orders": "ABBA"}, "orders"), ({"retries": -1}, "retries"), ({"concurrency": 0}, "concurrency"),
        ({"backend": "endpoint"}, "http"), ({"annotator": "http://h/v1", "backend": "transformers"}, "URL"),
        ({"overwrite": True}, "--no-resume"), ({"prompt": "free"}, "prompt"),
    ):
        with pytest.raises(ValueError, match=msg):
            AnnotateConfig(**{**base, **kw})
    assert AnnotateConfig(**{**base, "annotator": "https://api.example/v1"}).resolved_backend == "endpoint"
    assert AnnotateConfig(**base).resolved_backend == "transformers"


def test_local_tiny_teacher_rejects_are_written_with_reasons_and_counted(tiny_model_dir, pairs_subset, tmp_path):
    pairs = pairs_subset(3)
    out = tmp_path / "cot.jsonl"
    cfg = AnnotateConfig(pairs=str(pairs), out=str(out), annotator=str(tiny_model_dir), retries=1, max_new_tokens=12, batch_size=2, temperature=1.0)
    summary = annotate_pairs(cfg)
    ids = [p.id for p in load_pairs(pairs)]
    accepted, rejected = records(out), records(rejects_path(out))
    assert sorted(r["id"] for r in accepted + rejected) == sorted(ids)
    assert rejected, "an untrained tiny model wrote three well-formed rationales in 12 tokens"
    for r in rejected:
        assert r["category"] in CATEGORIES and r["reason"].startswith(r["category"] + ":")
        assert r["annotation"] == {"prompt_version": protocol.ANNOTATION_PROMPT_VERSION, "annotator": tiny_model_dir.name, "attempts": {"AB": 2}}
        assert "AB" in r["last_output"] and r["label"] in protocol.VERDICTS
    assert summary["accepted"] == len(accepted) and summary["rejected"] == len(rejected)
    assert summary["retried"] == len(rejected) and sum(summary["rejected_by_reason"].values()) == len(rejected)
    assert summary["run"]["annotated_now"] == 3
    assert json.loads(report_path(out).read_text())["results"]["rejected"] == len(rejected)

    again = annotate_pairs(cfg)  # everything decided: a rerun loads no model and changes nothing
    assert again["run"]["annotated_now"] == 0 and again["run"]["already_done"] == 3
    assert records(rejects_path(out)) == rejected


def test_local_annotator_renders_the_annotation_prompt_through_the_chat_template(tiny_model_dir, pairs_subset, tmp_path):
    from creative4u_small.distill.annotate.annotator_local import LocalAnnotator
    from creative4u_small.distill.sampling import _prompts

    pair = load_pairs(pairs_subset(1))[0]
    cfg = AnnotateConfig(pairs="p", out=str(tmp_path / "o.jsonl"), annotator=str(tiny_model_dir), max_new_tokens=4, temperature=0.0)
    annotator = LocalAnnotator(cfg)
    req = requests_for(pair, cfg)[0]
    (text,) = _prompts(annotator.generator.processor, [req.row], [req.messages()])
    assert f"clicked Creative {pair.label} more often" in text and text.count(protocol.IMAGE_TOKEN) == 2
    (plain,) = _prompts(annotator.generator.processor, [req.row])
    assert "clicked Creative" not in plain
    first, second = annotator.complete([req, req], seed=3), annotator.complete([req], seed=3)
    assert first[0] == first[1] == second[0]  # greedy: batching and padding do not change the text


def test_vllm_annotator_on_the_tiny_preset(tiny_model_dir, pairs_subset, tmp_path):
    pytest.importorskip("vllm", reason="vLLM is not installed (the `vllm` extra needs an NVIDIA GPU box)")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vLLM offline inference needs a CUDA GPU; none here")
    pairs = pairs_subset(2)
    out = tmp_path / "cot.jsonl"
    summary = annotate_pairs(AnnotateConfig(pairs=str(pairs), out=str(out), annotator=str(tiny_model_dir), backend="vllm", retries=0, max_new_tokens=16))
    assert summary["accepted"] + summary["rejected"] == 2


def test_annotate_help_lists_its_options():
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    result = CliRunner().invoke(app, ["data", "annotate", "--help"])
    assert result.exit_code == 0
    for opt in ("--pairs", "--annotator", "--orders", "--retries", "--api-key-env", "--concurrency", "--timeout", "Example"):
        assert opt in result.output
