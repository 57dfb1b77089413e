"""Loading each supported family as the hub ships it: processors, frames, answer tags, the verdict read."""

from __future__ import annotations

import pytest
from PIL import Image

from creative4u_small.contract import protocol
from creative4u_small.modeling.checkpoint import load_model

HUB = {
    "hub_qwen25vl": ("Qwen2_5_VLProcessor", False),
    "hub_qwen3vl": ("Qwen3VLProcessor", False),
    "hub_smolvlm": ("Idefics3Processor", True),
    "hub_smolvlm2": ("SmolVLMProcessor", True),
}


@pytest.fixture(scope="module")
def creatives():
    return [Image.new("RGB", (96, 64), (200, 30, 30)), Image.new("RGB", (48, 80), (20, 40, 220))]


@pytest.mark.parametrize("fixture", HUB)
def test_every_family_loads_as_shipped_and_reads_a_verdict(fixture, request, creatives):
    from creative4u_small.modeling.scorer import VerdictScorer

    processor_class, framed = HUB[fixture]
    notes: dict = {}
    model, processor, ids = load_model(request.getfixturevalue(fixture), add_tokens=True, notes=notes)
    assert type(processor).__name__ == processor_class and not hasattr(processor, "video_processor")
    assert type(processor.image_processor).__name__.endswith("Pil")  # the same pixels with or without torchvision
    tok = processor.tokenizer
    tag = tok.encode(protocol.ANSWER_OPEN, add_special_tokens=False)
    for verdict, vid in zip(protocol.VERDICTS, ids):  # the verdict reads unambiguously: <answer>, then one token
        full = tok.encode(protocol.ANSWER_OPEN + verdict + protocol.ANSWER_CLOSE, add_special_tokens=False)
        assert full[: len(tag) + 1] == [*tag, vid]
    if framed:
        assert processor.image_processor.do_image_splitting is False
        assert notes["frames"]["changed"]["do_image_splitting"] == [True, False]
    a, b = creatives
    verdicts = VerdictScorer(model, processor, ids).score([(a, b, "red shoe", "Trail shoe"), (b, a, "red shoe", "Trail shoe")])
    for v in verdicts:
        assert 0.0 < v.p_a < 1.0 and len(v.p_a_orders) == 2
    # the swapped pair shows the same two prompts; its p_a is of the other creative (padding never matters)
    assert verdicts[0].p_a_orders[0] == pytest.approx(1 - verdicts[1].p_a_orders[1], abs=1e-5)
    assert verdicts[0].p_a_orders[1] == pytest.approx(1 - verdicts[1].p_a_orders[0], abs=1e-5)


def test_the_real_qwen_vocabulary_merges_the_verdict_until_the_tags_are_tokens(hub_qwen25vl, tmp_path):
    with pytest.raises(ValueError) as e:
        load_model(hub_qwen25vl)  # label / eval on a model that never entered the pipeline
    assert "train it with one of them first" in str(e.value) and "\n" not in str(e.value)
    model, processor, ids = load_model(hub_qwen25vl, add_tokens=True)
    tok = processor.tokenizer
    assert len(tok) > 151643 and model.get_input_embeddings().num_embeddings >= len(tok)
    for verdict, vid in zip(protocol.VERDICTS, ids):
        text = f"{protocol.THINK_OPEN}\nQ10 more likely click: {verdict}\n{protocol.THINK_CLOSE}{protocol.ANSWER_OPEN}{verdict}{protocol.ANSWER_CLOSE}"
        pieces = tok.convert_ids_to_tokens(tok.encode(text, add_special_tokens=False))
        assert pieces[-3:] == [protocol.ANSWER_OPEN, tok.convert_ids_to_tokens(vid), protocol.ANSWER_CLOSE]
        assert tok.decode(tok.encode(text, add_special_tokens=False), skip_special_tokens=True) == text
    model.save_pretrained(tmp_path, safe_serialization=True)
    processor.save_pretrained(tmp_path)
    again, processor2, ids2 = load_model(tmp_path)  # saved with it: a later stage needs no tokens added
    assert ids2 == ids and len(processor2.tokenizer) == len(tok)


def test_a_text_only_model_is_refused_in_one_line(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError) as e:
        load_model(tmp_path)
    assert "not an image-text-to-text model" in str(e.value) or "bert" in str(e.value)
