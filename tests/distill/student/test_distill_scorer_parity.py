"""The shared verdict scorer equals a plain `model(**processor(...))` forward, in both orders and padded."""

import pytest
import torch
from PIL import Image

from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.modeling.judge_prompt import judge_text
from creative4u_small.modeling.scorer import VerdictScorer


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(tiny_model_dir)


def _plain_p_first(model, processor, ids, first, second, query, title):
    """P(the first-shown creative wins) from the stock forward's last-position logits."""
    inputs = processor(text=[judge_text(processor, query, title)], images=[[first, second]], return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1, list(ids)]
    return torch.softmax(logits.float(), -1)[0].item(), logits


def _images():
    return (
        Image.new("RGB", (60, 40), (200, 30, 30)),
        Image.linear_gradient("L").convert("RGB").resize((50, 70)),
        Image.new("RGB", (32, 32), (10, 120, 240)),
        Image.effect_noise((48, 48), 60).convert("RGB"),
    )


def test_scorer_matches_plain_forward_in_both_orders(loaded):
    model, processor, ids = loaded
    a, b, _, _ = _images()
    (v,) = VerdictScorer(model, processor, ids).score([(a, b, "red running shoe", "Trail shoe")])
    p_ab, logits_ab = _plain_p_first(model, processor, ids, a, b, "red running shoe", "Trail shoe")
    p_ba, logits_ba = _plain_p_first(model, processor, ids, b, a, "red running shoe", "Trail shoe")
    assert v.p_a_orders[0] == pytest.approx(p_ab, abs=1e-5)
    assert v.p_a_orders[1] == pytest.approx(1.0 - p_ba, abs=1e-5)
    assert v.p_a == pytest.approx((p_ab + 1.0 - p_ba) / 2, abs=1e-5)
    assert torch.allclose(torch.tensor(v.logits[0]), logits_ab, atol=1e-4)
    assert torch.allclose(torch.tensor(v.logits[1]), logits_ba, atol=1e-4)


def test_padded_batch_with_different_query_lengths_matches_plain_forward(loaded):
    model, processor, ids = loaded
    a, b, c, d = _images()
    items = [
        (a, b, "mug", ""),
        (c, d, "lightweight waterproof hiking boot for women with a long query text", "Boot"),
        (d, a, "", "A title only, no query at all"),
    ]
    verdicts = VerdictScorer(model, processor, ids, batch_size=3).score(items)
    for (x, y, q, t), v in zip(items, verdicts):
        p_ab, _ = _plain_p_first(model, processor, ids, x, y, q, t)
        p_ba, _ = _plain_p_first(model, processor, ids, y, x, q, t)
        assert v.p_a_orders[0] == pytest.approx(p_ab, abs=1e-5)
        assert v.p_a_orders[1] == pytest.approx(1.0 - p_ba, abs=1e-5)
    # the answer changes with the images (the test could fail if the scorer ignored them)
    assert len({round(v.p_a_orders[0], 6) for v in verdicts}) == 3
