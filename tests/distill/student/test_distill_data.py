"""Distillation batches: both orders with flipped targets, student-format tails, one shared forward."""

from dataclasses import replace

import pytest
import torch

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import TeacherLabel, load_pairs
from creative4u_small.distill.student.distill_data import DistillCollator, kept_rationale, make_examples, rationale_for_order
from creative4u_small.distill.student.distill_trainer import _verdict_module_class
from creative4u_small.distill.student.losses import IGNORE_INDEX
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.modeling.scorer import VerdictScorer


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(tiny_model_dir)


@pytest.fixture(scope="module")
def taught(synth_pairs_file):
    pairs = load_pairs(synth_pairs_file)[:4]
    p = {"A": [0.9, 0.65], "B": [0.2, 0.4]}
    out = []
    for x in pairs:
        pa = p[x.label].pop(0) if p[x.label] else (0.7 if x.label == "A" else 0.3)
        out.append(replace(x, teacher=TeacherLabel(p_a=pa, verdict=x.label, rationales=[x.rationale])))
    return out


def _swapped(pair):
    t = pair.teacher
    return replace(
        pair, image_a=pair.image_b, image_b=pair.image_a, label=protocol.flip_verdict(pair.label) if pair.label else None,
        teacher=TeacherLabel(1 - t.p_a, protocol.flip_verdict(t.verdict), [protocol.swap_teacher_completion(r) for r in t.rationales]),
        rationale=protocol.swap_teacher_completion(pair.rationale) if pair.rationale else None,
    )


def test_swapping_the_images_flips_the_target(loaded, taught):
    _, processor, ids = loaded
    collate = DistillCollator(processor, ids, with_rationale=True)
    batch = collate(make_examples(taught))
    swapped = collate(make_examples([_swapped(p) for p in taught]))
    p_a = [p.teacher.p_a for p in taught]
    assert batch["target_a"].tolist() == pytest.approx([x for pa in p_a for x in (pa, 1 - pa)])
    # the swapped pair in order AB is the original in order BA: same images, same target, same tail
    assert torch.allclose(swapped["target_a"].reshape(-1, 2).flip(1), batch["target_a"].reshape(-1, 2), atol=1e-6)
    shown = batch["pixel_values"][batch["image_index"]]  # [R, 2, 3, H, W] as Creative A, Creative B
    shown_swapped = swapped["pixel_values"][swapped["image_index"]]
    assert torch.equal(shown.reshape(4, 2, *shown.shape[1:]).flip(1), shown_swapped.reshape(4, 2, *shown.shape[1:]))
    assert not torch.equal(shown, shown_swapped)
    orig_rows = batch["tail_labels"].reshape(4, 2, -1)
    swap_rows = swapped["tail_labels"].reshape(4, 2, -1)
    for i in range(4):
        for o in range(2):
            a, b = orig_rows[i, o], swap_rows[i, 1 - o]
            assert a[a != IGNORE_INDEX].tolist() == b[b != IGNORE_INDEX].tolist()
    # the verdict token fed before the tail is the order's verdict
    col = batch["input_ids"].shape[1] - batch["tail_labels"].shape[1]
    fed = batch["input_ids"][:, col].tolist()
    expected = [ids[0] if v == "A" else ids[1] for p in taught for v in (p.teacher.verdict, protocol.flip_verdict(p.teacher.verdict))]
    assert fed == expected


def test_tail_is_the_student_format_after_the_verdict(loaded, taught):
    _, processor, ids = loaded
    collate = DistillCollator(processor, ids, with_rationale=True)
    ex = make_examples(taught[:1])
    batch = collate(ex)
    tail = [t for t in batch["tail_labels"][0].tolist() if t != IGNORE_INDEX]
    text = processor.tokenizer.decode(tail, skip_special_tokens=False)
    assert text.startswith(protocol.ANSWER_CLOSE + "\n" + protocol.THINK_OPEN)
    assert text.endswith(processor.tokenizer.eos_token)
    parsed = protocol.parse_student(protocol.ANSWER_OPEN + taught[0].teacher.verdict + text.removesuffix(processor.tokenizer.eos_token))
    assert not protocol.protocol_errors(parsed.answers)
    ba = rationale_for_order(ex[0]["rationale"], "BA")
    assert protocol.parse_student(protocol.student_completion(protocol.flip_verdict(taught[0].teacher.verdict), ba)).answers == protocol.swap_answers(parsed.answers)
    short = DistillCollator(processor, ids, with_rationale=True, max_rationale_tokens=5)(ex)
    assert short["tail_labels"].shape[1] == 5


def test_no_rationale_batch_is_exactly_the_judge_batch(loaded, taught):
    _, processor, ids = loaded
    batch = DistillCollator(processor, ids, with_rationale=False)(make_examples(taught, with_rationale=False))
    assert "tail_labels" not in batch
    assert (batch["input_ids"][:, -1] == processor.tokenizer.convert_tokens_to_ids(protocol.ANSWER_OPEN)).all()


def test_shared_forward_gives_the_scorers_verdict_logits(loaded, taught):
    model, processor, ids = loaded
    items = [(p.image_a, p.image_b, p.query, p.title) for p in taught]
    reference = VerdictScorer(model, processor, ids).logits(items)
    module = _verdict_module_class()(model, ids, rationale_weight=1.0)
    for with_rationale in (False, True):
        batch = DistillCollator(processor, ids, with_rationale)(make_examples(taught, with_rationale=with_rationale))
        with torch.no_grad():
            out = module(**batch)
        assert torch.allclose(out["verdict_logits"], reference, atol=1e-5)
        assert (float(out["token_loss"]) > 0) == with_rationale


def test_a_rationale_for_the_other_creative_or_a_contradicting_q10_is_never_kept(taught):
    pair = taught[0]
    text = pair.teacher.rationales[0]
    verdict = protocol.parse_teacher(text).verdict
    assert kept_rationale(pair, verdict) == text
    assert kept_rationale(pair, protocol.flip_verdict(verdict)) == ""
    q10 = f"Q10 more likely click: {verdict}"
    assert q10 in text
    bad_q10 = replace(pair, teacher=replace(pair.teacher, rationales=[text.replace(q10, q10[:-1] + protocol.flip_verdict(verdict))]),
                      rationale=None)
    assert kept_rationale(bad_q10, verdict) == ""
