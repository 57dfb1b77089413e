import pytest
import torch
from PIL import Image

from creative4u_small.contract import protocol
from creative4u_small.modeling.presets import PRESETS, get_preset


def test_preset_validation():
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("huge")
    assert get_preset("tiny").image_seq_len == 4
    assert get_preset("smolvlm-256m-shape").image_seq_len == 64


def test_tiny_forward_and_generate_with_saved_processor(tiny_model_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir).eval()
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    a, b = protocol.verdict_token_ids(processor.tokenizer)
    assert a != b
    text = processor.apply_chat_template(protocol.prompt_messages("red shoe", "Shoe"), add_generation_prompt=True)
    images = [Image.new("RGB", (90, 60), "red"), Image.new("RGB", (40, 70), "blue")]
    inputs = processor(text=[text, text], images=[images, images[::-1]], return_tensors="pt", padding=True)
    n_image_tokens = (inputs["input_ids"] == model.config.image_token_id).sum(-1)
    assert n_image_tokens.tolist() == [2 * get_preset("tiny").image_seq_len] * 2
    with torch.no_grad():
        logits = model(**inputs).logits
        out = model.generate(**inputs, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert logits.shape[:2] == inputs["input_ids"].shape and torch.isfinite(logits).all()
    assert out.shape == (2, inputs["input_ids"].shape[1] + 6)


def test_tokenizer_keeps_tags_and_verdicts_whole(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok.model_input_names == ["input_ids", "attention_mask"]
    for tag in (protocol.THINK_OPEN, protocol.THINK_CLOSE, protocol.ANSWER_OPEN, protocol.ANSWER_CLOSE):
        assert len(tok.encode(tag, add_special_tokens=False)) == 1
    text = protocol.student_completion("B", "because")
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_init_refuses_existing_folder(tiny_model_dir):
    from creative4u_small.contract.artifacts import OutputExistsError
    from creative4u_small.modeling.model_init import init_model

    with pytest.raises(OutputExistsError, match="--overwrite"):
        init_model("tiny", tiny_model_dir)


def test_smolvlm_shape_has_about_256m_parameters():
    from creative4u_small.modeling.model_init import build_model, build_processor

    preset = PRESETS["smolvlm-256m-shape"]
    with torch.device("meta"):
        model = build_model(preset, build_processor(preset).tokenizer)
    n = sum(p.numel() for p in model.parameters())
    assert 240e6 < n < 275e6, n
