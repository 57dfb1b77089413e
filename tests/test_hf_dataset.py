"""CreativePair records as datasets.Dataset: image columns and trl's prompt-completion rows."""

from __future__ import annotations

import pytest

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.data.hf_dataset import pairs_dataset, prompt_completion_dataset


@pytest.fixture(scope="module")
def pairs(synth_pairs_file):
    return load_pairs(synth_pairs_file)[:6]


def test_pairs_dataset_has_decoded_image_columns(pairs):
    ds = pairs_dataset(pairs)
    assert len(ds) == len(pairs)
    assert ds.features["image_a"].__class__.__name__ == "Image"
    row = ds[0]
    assert row["image_a"].size == row["image_b"].size
    assert row["id"] == pairs[0].id and row["label"] == pairs[0].label and row["query"] == pairs[0].query
    assert row["teacher_p_a"] is None


def test_prompt_completion_rows_in_both_orders(pairs):
    ds = prompt_completion_dataset(pairs, both_orders=True)
    assert len(ds) == 2 * len(pairs)
    ab, ba = ds[0], ds[1]
    assert (ab["order"], ba["order"]) == ("AB", "BA")
    assert ab["id"] == ba["id"] == pairs[0].id
    assert ab["prompt"][0]["role"] == "user"
    assert sum(part["type"] == "image" for part in ab["prompt"][0]["content"]) == 2
    text = lambda m: "".join(p["text"] or "" for p in m[0]["content"] if p["type"] == "text")
    assert text(ab["prompt"]) == protocol.prompt_text(pairs[0].query, pairs[0].title).replace(protocol.IMAGE_TOKEN, "")
    assert ab["completion"][0]["role"] == "assistant"
    assert ab["completion"][0]["content"][0]["text"] == pairs[0].rationale
    swapped = ba["completion"][0]["content"][0]["text"]
    assert swapped == protocol.swap_teacher_completion(pairs[0].rationale)
    assert protocol.parse_teacher(swapped).verdict == protocol.flip_verdict(pairs[0].label)
    assert ba["label"] == protocol.flip_verdict(ab["label"])
    # images reversed: the BA row's first image is the AB row's second image
    assert list(ba["images"][0].getdata()) == list(ab["images"][1].getdata())
    assert list(ba["images"][1].getdata()) == list(ab["images"][0].getdata())


def test_prompt_only_and_upright(pairs):
    ds = prompt_completion_dataset(pairs, both_orders=False, with_completion=False, upright=True)
    assert len(ds) == len(pairs) and "completion" not in ds.column_names
    assert all(im.mode == "RGB" for im in ds[0]["images"])


def test_bad_rationale_is_refused(pairs):
    import dataclasses

    bad = dataclasses.replace(pairs[0], rationale="A is better")
    with pytest.raises(ValueError, match="not in the teacher format"):
        prompt_completion_dataset([bad])
    with pytest.raises(ValueError, match="no rationale"):
        prompt_completion_dataset([dataclasses.replace(pairs[0], rationale=None)])
