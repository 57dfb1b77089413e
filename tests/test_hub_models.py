"""The hub-shaped fixtures (tests/hub_models.py) are what the hub ships: each loads as its family, runs a
forward on input made by its own image processor and tokenizer, and carries the real tokenizer.

Inputs are built with the family's image processor class and the tokenizer, not AutoProcessor: in this
install (no torchvision) AutoProcessor fails on the Qwen and SmolVLM2 folders because their processors
also build a video processor, which wants torchvision; ``test_auto_processor_*`` pins that down.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

FAMILIES = {
    "hub_qwen25vl": ("qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration"),
    "hub_qwen3vl": ("qwen3_vl", "Qwen3VLForConditionalGeneration"),
    "hub_smolvlm": ("idefics3", "Idefics3ForConditionalGeneration"),
    "hub_smolvlm2": ("smolvlm", "SmolVLMForConditionalGeneration"),
}
HUB_FILES = {"config.json", "generation_config.json", "preprocessor_config.json", "chat_template.json",
             "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "model.safetensors"}
EXTRA_FILES = {
    "hub_qwen25vl": set(),
    "hub_qwen3vl": {"video_preprocessor_config.json"},
    "hub_smolvlm": {"processor_config.json", "special_tokens_map.json", "added_tokens.json"},
    "hub_smolvlm2": {"processor_config.json", "special_tokens_map.json", "added_tokens.json",
                     "video_preprocessor_config.json"},
}
QWEN25_ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
                "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]
QWEN3_ADDED = QWEN25_ADDED + ["<tool_response>", "</tool_response>", "<think>", "</think>"]
SMOL_ADDED = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2, "<global-img>": 49152,
              "<row_1_col_1>": 49153, "<row_6_col_6>": 49188, "<fake_token_around_image>": 49189, "<image>": 49190,
              "<end_of_utterance>": 49279}
TEXTS = ["Hello world", "<answer>A", "<think>The product is larger.</think>\n<answer>B</answer>",
         "Red running shoe -- 30% off, today only!  ", "naïve café 1234567 ½ 東京 \t\r\n  x", "émoji 🚀🚀 'll 've"]


@pytest.fixture(params=list(FAMILIES))
def hub_dir(request):
    return request.param, request.getfixturevalue(request.param)


def _image(seed: int, size=(192, 32)):
    """A banner-shaped creative: SmolVLM's splitting makes 4 x 1 tiles + 1 global frame of it (a square makes 17)."""
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def test_folder_has_the_hub_files_and_shrunk_config(hub_dir):
    name, path = hub_dir
    assert {p.name for p in path.iterdir()} == HUB_FILES | EXTRA_FILES[name]
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    assert (config.model_type, config.architectures) == (FAMILIES[name][0], [FAMILIES[name][1]])
    assert config.get_text_config().hidden_size == 64 and config.get_text_config().num_hidden_layers == 2
    vision = config.vision_config
    assert vision.hidden_size == 32 and getattr(vision, "depth", getattr(vision, "num_hidden_layers", None)) == 2


def test_qwen_configs_keep_the_real_frame(hub_qwen25vl, hub_qwen3vl):
    from transformers import AutoConfig

    for path, patch in ((hub_qwen25vl, 14), (hub_qwen3vl, 16)):
        c = AutoConfig.from_pretrained(path)
        text = c.get_text_config()
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        assert sum(text.rope_parameters["mrope_section"]) == head_dim // 2
        assert (c.image_token_id, c.video_token_id, c.vision_start_token_id) == (151655, 151656, 151652)
        assert (text.vocab_size, c.vision_config.patch_size, c.vision_config.spatial_merge_size) == (151936, patch, 2)
    assert AutoConfig.from_pretrained(hub_qwen25vl).vision_config.fullatt_block_indexes == [1]
    assert AutoConfig.from_pretrained(hub_qwen3vl).vision_config.deepstack_visual_indexes == [0, 1]


def test_smolvlm_processor_files_are_as_shipped(hub_smolvlm, hub_smolvlm2):
    for path, kind in ((hub_smolvlm, "Idefics3ImageProcessor"), (hub_smolvlm2, "SmolVLMImageProcessor")):
        pre = json.loads((path / "preprocessor_config.json").read_text())
        assert pre["image_processor_type"] == kind and pre["do_image_splitting"] is True
        assert pre["size"] == {"longest_edge": 2048} and pre["max_image_size"] == {"longest_edge": 512}
        assert json.loads((path / "processor_config.json").read_text())["image_seq_len"] == 64
        vision = json.loads((path / "config.json").read_text())["vision_config"]
        assert (vision["image_size"], vision["patch_size"]) == (512, 16)


def _qwen_inputs(path, image):
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

    pixels = Qwen2VLImageProcessorPil.from_pretrained(path)(images=[image], return_tensors="pt")
    tok = AutoTokenizer.from_pretrained(path)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which creative wins?"}]}]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    n_tokens = int(pixels["image_grid_thw"].prod()) // 4  # merge_size 2 x 2
    text = tok(prompt.replace("<|image_pad|>", "<|image_pad|>" * n_tokens), return_tensors="pt")
    assert int((text["input_ids"] == 151655).sum()) == n_tokens
    text["mm_token_type_ids"] = (text["input_ids"] == 151655).int()  # 1 marks image tokens, as the processor does
    return {**text, **pixels}


def _smol_inputs(path, image, image_processor_cls):
    from transformers import AutoTokenizer
    from transformers.models.smolvlm.processing_smolvlm import get_image_prompt_string

    proc = image_processor_cls.from_pretrained(path)
    pixels = proc(images=[[image]], return_tensors="pt", return_row_col_info=True)
    rows, cols = pixels.pop("rows")[0][0], pixels.pop("cols")[0][0]
    tok = AutoTokenizer.from_pretrained(path)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which creative wins?"}]}]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    block = get_image_prompt_string(rows, cols, 64, "<fake_token_around_image>", "<image>", "<global-img>")
    text = tok(prompt.replace("<image>", block), return_tensors="pt")
    assert int((text["input_ids"] == 49190).sum()) == 64 * pixels["pixel_values"].shape[1]
    return {**text, **pixels}


def _inputs(name, path, image):
    from transformers import Idefics3ImageProcessorPil, SmolVLMImageProcessorPil

    if name in ("hub_qwen25vl", "hub_qwen3vl"):
        return _qwen_inputs(path, image)
    return _smol_inputs(path, image, Idefics3ImageProcessorPil if name == "hub_smolvlm" else SmolVLMImageProcessorPil)


def test_forward_on_processor_made_input(hub_dir):
    import torch
    from transformers import AutoModelForImageTextToText

    name, path = hub_dir
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    assert type(model).__name__ == FAMILIES[name][1]
    logits = []
    for seed in (0, 1):
        inputs = _inputs(name, path, _image(seed))
        with torch.no_grad():
            out = model(**inputs).logits
        assert out.shape[:2] == inputs["input_ids"].shape and out.shape[-1] == model.config.get_text_config().vocab_size
        assert torch.isfinite(out.float()).all()
        logits.append(out[0, -1].float())
    assert not torch.allclose(logits[0], logits[1]), "the image did not reach the verdict position"


def test_smolvlm_image_processor_path_matches_its_processor(hub_smolvlm):
    """For the one family whose AutoProcessor loads here, the hand-made input is the processor's."""
    import torch
    from transformers import AutoProcessor, Idefics3ImageProcessorPil

    image = _image(2)
    ours = _smol_inputs(hub_smolvlm, image, Idefics3ImageProcessorPil)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which creative wins?"}]}]
    proc = AutoProcessor.from_pretrained(hub_smolvlm)
    prompt = proc.apply_chat_template(messages, add_generation_prompt=True)
    theirs = proc(text=prompt, images=[[image]], return_tensors="pt")
    assert torch.equal(ours["input_ids"], theirs["input_ids"])
    assert torch.equal(ours["pixel_values"], theirs["pixel_values"])


@pytest.mark.parametrize("fixture", ["hub_qwen25vl", "hub_qwen3vl", "hub_smolvlm2"])
def test_auto_processor_needs_torchvision_here(fixture, request):
    """Why processors are built image-only here: these processors also build a video processor (torchvision)."""
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed, so the video processors load")
    from transformers import AutoProcessor

    with pytest.raises(ImportError, match="requires the Torchvision library"):
        AutoProcessor.from_pretrained(request.getfixturevalue(fixture))


def test_qwen_tokenizer_is_the_real_vocabulary(hub_qwen25vl):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hub_qwen25vl)
    assert tok.is_fast
    assert tok("Hello world")["input_ids"] == [9707, 1879]
    # Qwen's pre-tokenizer keeps ">A" together: the verdict letter is not a token of its own after "<answer>".
    assert tok("<answer>A")["input_ids"] == [27, 9217, 23465]
    assert tok.convert_ids_to_tokens([27, 9217, 23465]) == ["<", "answer", ">A"]


def test_qwen_tokenizer_agrees_with_tiktoken_on_the_source_ranks(hub_qwen25vl):
    """tiktoken reading qwen.tiktoken with Qwen2's split is an independent encoder of the same BPE."""
    import tiktoken
    from hub_tokenizers import QWEN2_PATTERN, qwen_tiktoken_path
    from tiktoken.load import load_tiktoken_bpe
    from transformers import AutoTokenizer

    ranks = load_tiktoken_bpe(str(qwen_tiktoken_path()))
    assert len(ranks) == 151643
    reference = tiktoken.Encoding("qwen", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    tok = AutoTokenizer.from_pretrained(hub_qwen25vl)  # none of TEXTS holds a Qwen2.5 added token
    for text in TEXTS:
        assert tok(text)["input_ids"] == reference.encode(text), text
        assert tok.decode(reference.encode(text)) == text


@pytest.mark.parametrize("fixture,added", [("hub_qwen25vl", QWEN25_ADDED), ("hub_qwen3vl", QWEN3_ADDED)])
def test_qwen_added_tokens_at_their_real_ids(fixture, added, request):
    from transformers import AutoTokenizer

    path = request.getfixturevalue(fixture)
    tok = AutoTokenizer.from_pretrained(path)
    assert len(tok) == 151643 + len(added)
    assert tok.convert_tokens_to_ids(added) == list(range(151643, 151643 + len(added)))
    decoder = json.loads((path / "tokenizer_config.json").read_text())["added_tokens_decoder"]
    assert {decoder[str(i)]["content"]: decoder[str(i)]["special"] for i in range(151643, 151657)} == {
        t: True for t in added[:14]}
    assert not any(decoder[str(i)]["special"] for i in range(151657, 151643 + len(added)))
    if fixture == "hub_qwen3vl":
        assert tok("<think>x</think>")["input_ids"] == [151667, 87, 151668]
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


@pytest.mark.parametrize("fixture", ["hub_qwen3vl", "hub_smolvlm2"])
def test_vocab_and_merges_rebuild_the_same_tokenizer(fixture, request):
    """vocab.json + merges.txt (what a slow tokenizer reads) encode as tokenizer.json does."""
    from tokenizers import Tokenizer, models

    path = request.getfixturevalue(fixture)
    fast = Tokenizer.from_file(str(path / "tokenizer.json"))
    slow = Tokenizer.from_file(str(path / "tokenizer.json"))
    slow.model = models.BPE.from_file(str(path / "vocab.json"), str(path / "merges.txt"))
    for text in TEXTS:
        assert slow.encode(text).ids == fast.encode(text).ids, text


@pytest.mark.parametrize("fixture", ["hub_smolvlm", "hub_smolvlm2"])
def test_smolvlm_tokenizer_added_tokens_at_their_real_ids(fixture, request):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(request.getfixturevalue(fixture))
    assert len(tok) == 49280
    assert {t: tok.convert_tokens_to_ids(t) for t in SMOL_ADDED} == SMOL_ADDED
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<|im_start|>", "<end_of_utterance>", "<|im_end|>")
    assert len(tok("12345", add_special_tokens=False)["input_ids"]) == 5  # SmolLM2 splits digits one by one
