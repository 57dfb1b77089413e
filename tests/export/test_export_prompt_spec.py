"""The manifest's prompt pieces must rebuild exactly the ids the PyTorch scorer feeds the model."""

from __future__ import annotations

import pytest
from PIL import Image

from creative4u_small.contract import protocol

CASES = [
    ("", ""),
    ("red running shoe", "Men's waterproof trail shoe"),
    ("?!, ...", "-- (50% off) --"),
    ("café 東京 ☕ naïve", "Ünïcödé “title”…"),
    ("long " * 80 + "query", "title " * 40),
    ("  lots \n of   space ", None),
]


@pytest.fixture(scope="module")
def processor(tiny_model_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model_dir)


def test_pieces_reproduce_scorer_input_ids(processor, tiny_model_dir):
    from tokenizers import Tokenizer

    from creative4u_small.export.prompt_spec import build_prompt_spec
    from creative4u_small.modeling.scorer import build_judge_batch

    spec = build_prompt_spec(processor)
    assert [next(iter(p)) for p in spec.pieces if "ids" not in p] == ["slot", "slot", "image", "image"]
    tok = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    encode = lambda text: tok.encode(text, add_special_tokens=False).ids  # noqa: E731
    red, blue = Image.new("RGB", (40, 20), "red"), Image.new("RGB", (20, 30), "blue")
    batch = build_judge_batch(processor, [(red, blue, q, t) for q, t in CASES], orders=("AB",))
    for row, (query, title) in enumerate(CASES):
        want = batch.input_ids[row][batch.attention_mask[row].bool()].tolist()
        got = spec.assemble_ids(encode, query, title)
        assert got == want, (query, title)
    assert spec.image_block_ids.count(spec.image_token_id) == processor.image_seq_len
    assert spec.verdict_token_ids == list(protocol.verdict_token_ids(tok))
    assert spec.answer_close_ids == encode(protocol.ANSWER_CLOSE)
    assert processor.tokenizer.eos_token_id in spec.eos_token_ids


def test_unsplittable_tokenizer_is_refused(tiny_model_dir):
    from tokenizers import pre_tokenizers
    from transformers import AutoProcessor

    from creative4u_small.export.prompt_spec import PromptSplitError, build_prompt_spec

    proc = AutoProcessor.from_pretrained(tiny_model_dir)
    # A prefix space is added to every separately encoded piece: pieces no longer concatenate.
    proc.tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    with pytest.raises(PromptSplitError, match="merges across"):
        build_prompt_spec(proc)


def test_preprocessing_constants(processor):
    from creative4u_small.export.prompt_spec import build_preprocessing

    pre = build_preprocessing(processor)
    ip = processor.image_processor
    assert pre.image_size == ip.max_image_size["longest_edge"] == 32
    assert pre.image_mean == list(ip.image_mean) and pre.image_std == list(ip.image_std)
    assert pre.rescale_factor == pytest.approx(1 / 255)
    assert pre.resample == int(ip.resample)


def test_slot_budgets_rise_to_what_the_model_trained_on(tmp_path):
    import json

    from creative4u_small.export.prompt_spec import slot_budgets

    assert slot_budgets(tmp_path, 64) == {"query": 64, "title": 64}  # no training record: the floor
    (tmp_path / "report.json").write_text(json.dumps({"slot_tokens": {"query": 90, "title": 7}}))
    assert slot_budgets(tmp_path, 64) == {"query": 90, "title": 64}
