"""The distillation loss on fixed numbers: soft verdict CE, order flip, label mixing, token CE."""

import math

import pytest
import torch

from creative4u_small.distill.student.losses import IGNORE_INDEX, mixed_target, order_targets, soft_verdict_loss, token_loss


def _soft_ce(logit_a, logit_b, t):
    za = math.exp(logit_a) / (math.exp(logit_a) + math.exp(logit_b))
    return -(t * math.log(za) + (1 - t) * math.log(1 - za))


def test_soft_verdict_loss_equals_hand_computed_value():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [-1.0, 3.0], [0.5, 0.5]])
    p_a = [0.9, 0.25]
    targets = order_targets(p_a, ("AB", "BA"))
    assert targets.tolist() == pytest.approx([0.9, 0.1, 0.25, 0.75])
    expected = (_soft_ce(2, 0, 0.9) + _soft_ce(0, 1, 0.1) + _soft_ce(-1, 3, 0.25) + _soft_ce(0.5, 0.5, 0.75)) / 4
    assert float(soft_verdict_loss(logits, targets)) == pytest.approx(expected, rel=1e-6)
    # by hand for the first row: softmax(2, 0) = 0.880797; -(0.9 ln 0.880797 + 0.1 ln 0.119203)
    assert _soft_ce(2, 0, 0.9) == pytest.approx(0.326928, abs=1e-6)


def test_soft_loss_is_minimal_at_the_target_and_has_zero_gradient_there():
    t = torch.tensor([0.7])
    exact = torch.tensor([[math.log(0.7), math.log(0.3)]], requires_grad=True)
    loss = soft_verdict_loss(exact, t)
    loss.backward()
    assert exact.grad.abs().max() < 1e-6
    assert float(loss.detach()) < float(soft_verdict_loss(torch.tensor([[0.0, 0.0]]), t))


def test_order_targets_flip_for_the_reversed_order():
    assert order_targets([1.0, 0.0], ("AB", "BA")).tolist() == [1.0, 0.0, 0.0, 1.0]
    assert order_targets([0.3], ("BA",)).tolist() == pytest.approx([0.7])


def test_mixed_target():
    assert mixed_target(0.8, None, 0.5) == 0.8
    assert mixed_target(None, "B", 0.0) == 0.0
    assert mixed_target(0.8, "B", 0.25) == pytest.approx(0.6)
    assert mixed_target(0.8, "A", 0.0) == 0.8
    with pytest.raises(ValueError, match="teacher p_a or a label"):
        mixed_target(None, None, 0.0)
    with pytest.raises(ValueError, match="label_weight"):
        mixed_target(0.5, "A", 1.5)


def test_token_loss_ignores_padding():
    logits = torch.tensor([[[0.0, 2.0, 0.0], [9.0, -9.0, 0.0]]])
    labels = torch.tensor([[1, IGNORE_INDEX]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert float(token_loss(logits, labels)) == pytest.approx(expected, rel=1e-6)
    assert float(token_loss(logits, torch.full((1, 2), IGNORE_INDEX))) == 0.0


def test_token_loss_weights_the_content_tokens():
    from creative4u_small.distill.token_weights import decision_weights

    logits = torch.randn(2, 3, 5)
    labels = torch.tensor([[1, 2, IGNORE_INDEX], [4, 2, 0]])
    w = decision_weights(labels, frozenset({2}), 10.0)
    assert w.tolist() == [[1.0, 10.0, 1.0], [1.0, 10.0, 1.0]]
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none")
    expected = (ce * w.reshape(-1))[labels.reshape(-1) != IGNORE_INDEX].mean()
    assert float(token_loss(logits, labels, w)) == pytest.approx(float(expected), rel=1e-6)
    assert float(token_loss(logits, labels, torch.ones(2, 3))) == pytest.approx(float(token_loss(logits, labels)), rel=1e-6)


def test_rationale_decision_ids_are_signs_and_letters(tiny_model_dir):
    from transformers import AutoTokenizer

    from creative4u_small.contract import protocol
    from creative4u_small.distill.student.losses import rationale_decision_ids

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = rationale_decision_ids(tok)
    line = tok.encode("Q9 background: A<B\nQ10 more likely click: B", add_special_tokens=False)
    marked = [tok.decode([t]) for t in line if t in ids]
    assert "<" in "".join(marked) and marked[-1].strip() == "B" and protocol.decision_token_ids(tok) <= ids
    assert not any(t in ids for t in tok.encode("Q9 background", add_special_tokens=False))
