"""Teacher labelling on the tiny preset: both orders scored, p_a in [0, 1], crash and resume."""

from __future__ import annotations

import json

import pytest

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.distill.label.label import (
    EMPTY_REASONING,
    STATS_FIELD,
    choose_rationale,
    label_pairs,
    make_generator,
    reasoning_suffix,
    sample_record,
)
from creative4u_small.distill.label.label_config import LabelConfig

ANSWERS = {"Q1": "no", "Q2": "no", "Q3": "A>B", "Q4": "A=B", "Q5": "A>B", "Q6": "A=B", "Q7": "A<B", "Q8": "A>B", "Q9": "A=B", "Q10": "A"}
GOOD_A = protocol.teacher_completion("A", ANSWERS, "Creative A shows the product larger.")


@pytest.fixture(scope="module")
def six_pairs(pairs_subset):
    return pairs_subset(6)


def cfg(model, pairs, out, **kw):
    return LabelConfig(teacher=str(model), pairs=str(pairs), out=str(out), **{"k": 1, "max_new_tokens": 6, "batch_size": 2, **kw})


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_records_carry_p_a_from_both_orders(tiny_model_dir, six_pairs, tmp_path):
    out = tmp_path / "labelled.jsonl"
    summary = label_pairs(cfg(tiny_model_dir, six_pairs, out, k=2))
    assert summary["labelled_now"] == 6
    recs = records(out)
    assert [r["id"] for r in recs] == [p.id for p in load_pairs(six_pairs)]
    for r in recs:
        t = r["teacher"]
        assert 0.0 <= t["p_a"] <= 1.0 and len(t["p_a_orders"]) == 2
        assert t["p_a"] == pytest.approx(sum(t["p_a_orders"]) / 2, abs=1e-6)
        assert t["verdict"] == ("A" if t["p_a"] >= 0.5 else "B")
        assert r[STATS_FIELD]["k"] == 2
    relabelled = load_pairs(out)  # the output is a valid CreativePair file
    assert all(p.teacher is not None for p in relabelled)
    assert (tmp_path / "labelled.jsonl.c4u_provenance.json").exists()


def test_k0_matches_a_plain_forward_in_each_order(tiny_model_dir, six_pairs, tmp_path):
    """p_a per order equals softmax over (A, B) of a plain model forward; BA maps back to A."""
    import torch

    from creative4u_small.contract.images import open_image
    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.modeling.judge_prompt import prompt_chat_text

    out = tmp_path / "k0.jsonl"
    label_pairs(cfg(tiny_model_dir, six_pairs, out, k=0))
    rec = records(out)[0]
    pair = load_pairs(six_pairs)[0]
    model, processor, (ia, ib) = load_model(tiny_model_dir)
    text = prompt_chat_text(processor, pair.query, pair.title) + EMPTY_REASONING + protocol.ANSWER_OPEN
    expected = []
    for imgs, col in (([pair.image_a, pair.image_b], 0), ([pair.image_b, pair.image_a], 1)):
        inputs = processor(text=[text], images=[[open_image(i) for i in imgs]], return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            logits = model(**inputs).logits[0, -1, [ia, ib]]
        expected.append(float(torch.softmax(logits, -1)[col]))
    assert rec["teacher"]["p_a_orders"] == pytest.approx(expected, abs=1e-4)
    assert rec["teacher"]["rationales"] == []


def test_crash_in_the_middle_then_rerun_gives_one_record_per_pair(tiny_model_dir, six_pairs, tmp_path):
    out = tmp_path / "crash.jsonl"

    def crash_after_two(done, total):
        if done >= 2:
            raise KeyboardInterrupt("simulated crash")

    with pytest.raises(KeyboardInterrupt):
        label_pairs(cfg(tiny_model_dir, six_pairs, out), progress=crash_after_two)
    first = records(out)
    assert len(first) == 2
    # a crash in the middle of a write leaves a truncated line behind
    with open(out, "a") as fh:
        fh.write('{"id": "synth-000002", "image_a": "img/')
    warnings = []
    summary = label_pairs(cfg(tiny_model_dir, six_pairs, out), warn=warnings.append)
    assert summary["already_labelled"] == 2 and summary["labelled_now"] == 4
    assert any("truncated" in w for w in warnings)
    recs = records(out)
    ids = [r["id"] for r in recs]
    assert sorted(ids) == sorted(p.id for p in load_pairs(six_pairs)) and len(ids) == len(set(ids)) == 6
    assert recs[:2] == first
    again = label_pairs(cfg(tiny_model_dir, six_pairs, out))
    assert again["labelled_now"] == 0 and len(records(out)) == 6


def test_crash_by_killing_a_subprocess(tiny_model_dir, six_pairs, tmp_path):
    """A real process killed after its first batch is on disk; the rerun completes the file."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed.jsonl"
    code = (
        "import os, sys, time\n"
        "from creative4u_small.distill.label.label import label_pairs\n"
        "from creative4u_small.distill.label.label_config import LabelConfig\n"
        f"c = LabelConfig(teacher={str(tiny_model_dir)!r}, pairs={str(six_pairs)!r}, out={str(out)!r}, k=1, max_new_tokens=6, batch_size=2)\n"
        "def hang(done, total):\n"
        "    if done >= 2:\n"
        "        print('BATCH', flush=True); time.sleep(600)\n"
        "label_pairs(c, progress=hang)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        line = ""
        while time.time() < deadline and "BATCH" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "BATCH" in line, "the labelling subprocess never finished its first batch"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(records(out)) == 2
    label_pairs(cfg(tiny_model_dir, six_pairs, out))
    ids = [r["id"] for r in records(out)]
    assert len(ids) == len(set(ids)) == 6


def test_output_of_another_run_is_refused(tiny_model_dir, six_pairs, tmp_path):
    out = tmp_path / "other.jsonl"
    out.write_text(json.dumps({"id": "not-in-input", "image_a": "a.png", "image_b": "b.png"}) + "\n")
    with pytest.raises(ValueError, match="not in"):
        label_pairs(cfg(tiny_model_dir, six_pairs, out))
    with pytest.raises(FileExistsError, match="--resume"):
        label_pairs(cfg(tiny_model_dir, six_pairs, out, resume=False))
    summary = label_pairs(cfg(tiny_model_dir, six_pairs, out, resume=False, overwrite=True, k=0))
    assert summary["labelled_now"] == 6 and len(records(out)) == 6


def test_missing_image_is_named_before_labelling(tiny_model_dir, six_pairs, tmp_path, image_gone):
    bad = image_gone(six_pairs, 4, "image_a")
    with pytest.raises(ValueError, match=r"bad\.jsonl:5: image_a"):
        label_pairs(cfg(tiny_model_dir, bad, tmp_path / "x.jsonl"))
    assert not (tmp_path / "x.jsonl").exists()


def test_reasoning_suffix():
    assert reasoning_suffix(" " + GOOD_A) == GOOD_A[: GOOD_A.index("</think>") + len("</think>")]
    assert reasoning_suffix("<think>\nQ1 same image: no") == "<think>\nQ1 same image: no</think>"
    assert reasoning_suffix("<think>x<answer>A</answer>") == "<think>x</think>"
    assert "<image>" not in reasoning_suffix("<think><image></think>")


def test_kept_rationale_matches_verdict_and_label():
    good_b = protocol.swap_teacher_completion(GOOD_A)
    samples = [
        sample_record(GOOD_A, "AB", 0.9),
        sample_record(GOOD_A, "BA", 0.2),  # in BA order this answers A -> the pair's B
        sample_record("garbage", "AB", 0.5),
    ]
    assert [s["answer"] for s in samples] == ["A", "B", None]
    assert samples[1]["text"] == good_b and samples[1]["p_answer"] == pytest.approx(0.8)
    assert choose_rationale(samples, "A", "A") == GOOD_A
    assert choose_rationale(samples, "B", None) == good_b
    assert choose_rationale(samples, "A", "B") is None  # verdict and label disagree: nothing kept
    missing_line = GOOD_A.replace("Q5 text in image: A>B\n", "")
    assert not sample_record(missing_line, "AB", 0.9)["well_formed"]


def test_vllm_backend_explains_itself_when_missing(tiny_model_dir, six_pairs, tmp_path):
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
        pytest.skip("vLLM is installed here; this test checks the message when it is not")
    except ImportError:
        pass
    with pytest.raises(ImportError, match="creative4u-small\\[vllm\\]"):
        make_generator(cfg(tiny_model_dir, six_pairs, tmp_path / "v.jsonl", backend="vllm"), None, None)


def test_config_validation():
    with pytest.raises(ValueError, match="backend"):
        LabelConfig(teacher="t", pairs="p", out="o", backend="onnx")
    with pytest.raises(ValueError, match="k must"):
        LabelConfig(teacher="t", pairs="p", out="o", k=-1)


def test_judge_batch_suffixes_keep_the_default_rows(tiny_model_dir, six_pairs):
    import torch

    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.modeling.scorer import build_judge_batch

    _, processor, _ = load_model(tiny_model_dir)
    items = [(p.image_a, p.image_b, p.query, p.title) for p in load_pairs(six_pairs)[:2]]
    plain = build_judge_batch(processor, items)
    empty = build_judge_batch(processor, items, suffixes=[("", "")] * 2)
    assert torch.equal(plain.input_ids, empty.input_ids) and torch.equal(plain.image_index, empty.image_index)
    longer = build_judge_batch(processor, items, suffixes=[(EMPTY_REASONING, "")] * 2)
    assert int(longer.attention_mask[0].sum()) > int(longer.attention_mask[1].sum())
    assert plain.pixel_values.shape[0] == 4  # each distinct image once


def test_rationale_whose_q10_contradicts_its_answer_is_never_kept():
    contradicting = GOOD_A.replace("Q10 more likely click: A", "Q10 more likely click: B")
    assert contradicting != GOOD_A
    record = sample_record(contradicting, "AB", 0.9)
    assert record["well_formed"] and record["answer"] == "A" and not record["q10_agrees"]
    assert choose_rationale([record], "A", "A") is None
    assert choose_rationale([record, sample_record(GOOD_A, "AB", 0.6)], "A", "A") == GOOD_A
