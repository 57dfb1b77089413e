"""The family registry: roles, one-line refusals, the docs' family table, image blocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from creative4u_small.modeling import families


def test_each_supported_model_type_maps_to_its_family():
    assert families.family_for("qwen2_5_vl").name == "Qwen2.5-VL"
    assert families.family_for("qwen3_vl").name == "Qwen3-VL"
    assert families.family_for("idefics3", families.STUDENT).framed
    assert families.family_for("smolvlm", families.STUDENT).global_image_attr == "global_image_token"
    assert families.family_for("llava") is families.GENERIC  # any other image-text-to-text teacher


@pytest.mark.parametrize("model_type", ["qwen2_5_vl", "qwen3_vl", "llava"])
def test_a_non_student_family_is_refused_in_one_line_naming_the_students(model_type):
    with pytest.raises(ValueError) as e:
        families.family_for(model_type, families.STUDENT, where="ckpt")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("ckpt: ") and repr(model_type) in msg
    assert "idefics3" in msg and "smolvlm" in msg


def test_model_type_of_names_the_file_on_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        families.model_type_of(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        families.model_type_of(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "smolvlm"}))
    assert families.model_type_of(tmp_path) == "smolvlm"


def test_the_docs_family_table_is_the_registry():
    page = (Path(__file__).parents[1] / "docs" / "families.md").read_text()
    assert families.support_table() in page


def test_framed_families_write_one_unsplit_frame_block():
    class Proc:
        fake_image_token, image_token, image_seq_len = "<f>", "<i>", 3
        global_image_tag = global_image_token = "<g>"

    for model_type in ("idefics3", "smolvlm"):
        assert families.family_for(model_type).image_block(Proc()) == "<f><g><i><i><i><f>"
    with pytest.raises(ValueError, match="processor"):
        families.family_for("qwen2_5_vl").image_block(Proc())
