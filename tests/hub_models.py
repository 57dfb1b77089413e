"""Checkpoints laid out exactly as the Hugging Face hub ships them, shrunk, with random weights, built offline.

Each builder copies one hub repo's own files from ``tests/data/hub/<repo>/``, shrinks only the model
dimensions in ``config.json`` (every other key, token id and processor setting stays as published),
writes the family's real tokenizer (``hub_tokenizers``) and saves random weights as
``model.safetensors``. transformers is imported inside the functions.

Mirrored repos and where their files come from:

- ``Qwen/Qwen2.5-VL-3B-Instruct`` (``build_qwen25vl``): config, generation, preprocessor, chat template
  and tokenizer_config (added tokens 151643..151664) written to the published values (config keys,
  preprocessor config and chat template checked against public copies; generation and tokenizer config
  not, no copy was found); text 64 wide x 2 layers, 4 heads / 2 KV heads (head_dim 16, mrope_section
  [2, 3, 3]); vision depth 2, 32 wide; vocab stays 151936.
- ``Qwen/Qwen3-VL-2B-Instruct`` (``build_qwen3vl``): likewise (chat template and video preprocessor
  config checked against public copies), with the Qwen3 added tokens up to ``</think>`` 151668; shrunk
  like Qwen2.5-VL, deepstack [0, 1].
- ``HuggingFaceTB/SmolVLM-256M-Instruct`` (``build_smolvlm``): every file verbatim from a public copy
  of the repo (config, processor_config with image_seq_len 64, preprocessor_config with
  do_image_splitting true, chat template, tokenizer files); image_size 512 / patch 16 / scale_factor 4
  kept, text 64 wide x 2 layers, vision 32 wide x 2 layers.
- ``HuggingFaceTB/SmolVLM2-256M-Video-Instruct`` (``build_smolvlm2``): processor, preprocessor and
  tokenizer wiring as published for SmolVLM2; its chat template is the one transformers' SmolVLMProcessor
  ships for SmolVLM2. No public copy of its config.json or video_preprocessor_config.json was found: they
  are written in SmolVLM2's published layout (vision depth and width left at their defaults) with
  SmolVLM-256M's dimensions, and from the SmolVLM2 preprocessor settings. Shrunk as SmolVLM.

Weights: ``torch.manual_seed(seed)``, ``AutoModelForImageTextToText.from_config``, ``save_pretrained``
(safetensors, in the dtype the repo publishes: bfloat16 for all but SmolVLM2's float32) into a scratch
folder, of which only ``model.safetensors`` is kept, so the config files stay in the hub's own (older)
format rather than transformers' re-serialisation. transformers writes the tensors under the hub's own
key names (e.g. ``visual.*`` / ``model.layers.*`` for Qwen2.5-VL).
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path

from hub_tokenizers import write_qwen_tokenizer, write_smollm2_tokenizer

DATA = Path(__file__).parent / "data" / "hub"

_TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2}
_QWEN25_SHRINK = {
    **_TEXT,
    "rope_scaling": {"mrope_section": [2, 3, 3]},
    "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                      "fullatt_block_indexes": [1]},
}
_QWEN3_SHRINK = {
    "text_config": {**_TEXT, "head_dim": 16, "rope_scaling": {"mrope_section": [3, 3, 2]}},
    "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                      "deepstack_visual_indexes": [0, 1]},
}
_SMOL_SHRINK = {
    "text_config": {**_TEXT, "head_dim": 16},
    "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2},
}


def _merge(base: dict, patch: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:  # may add a key the repo leaves at its default (SmolVLM2's vision depth and width)
            out[key] = value
    return out


def _lay_out(repo: str, out: Path, shrink: dict) -> dict:
    """Copy the repo's files (gzipped ones are tokenizer data, written separately) and shrink config.json."""
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted((DATA / repo).iterdir()):
        if src.suffix != ".gz":
            shutil.copyfile(src, out / src.name)
    config = _merge(json.loads((out / "config.json").read_text()), shrink)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return config


def _qwen_added_tokens(out: Path) -> dict[int, tuple[str, bool]]:
    decoder = json.loads((out / "tokenizer_config.json").read_text())["added_tokens_decoder"]
    return {int(i): (t["content"], t["special"]) for i, t in decoder.items()}


def _hub_dtype(config: dict) -> str:
    """The dtype the repo publishes its weights in (top-level key, else the text config's)."""
    for source in (config, config.get("text_config", {})):
        for key in ("torch_dtype", "dtype"):
            if source.get(key):
                return source[key]
    return "float32"


def _save_weights(out: Path, config_json: dict, seed: int) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    config = AutoConfig.from_pretrained(out)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config).to(getattr(torch, _hub_dtype(config_json)))
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        model.save_pretrained(scratch, safe_serialization=True)
        shutil.move(Path(scratch) / "model.safetensors", out / "model.safetensors")


def build_qwen25vl(out: Path, seed: int = 0) -> Path:
    """A folder laid out like Qwen/Qwen2.5-VL-3B-Instruct (shrunk, random weights)."""
    out = Path(out)
    config = _lay_out("Qwen2.5-VL-3B-Instruct", out, _QWEN25_SHRINK)
    write_qwen_tokenizer(out, _qwen_added_tokens(out))
    _save_weights(out, config, seed)
    return out


def build_qwen3vl(out: Path, seed: int = 0) -> Path:
    """A folder laid out like Qwen/Qwen3-VL-2B-Instruct (shrunk, random weights)."""
    out = Path(out)
    config = _lay_out("Qwen3-VL-2B-Instruct", out, _QWEN3_SHRINK)
    write_qwen_tokenizer(out, _qwen_added_tokens(out))
    _save_weights(out, config, seed)
    return out


def build_smolvlm(out: Path, seed: int = 0) -> Path:
    """A folder laid out like HuggingFaceTB/SmolVLM-256M-Instruct (shrunk, random weights)."""
    out = Path(out)
    config = _lay_out("SmolVLM-256M-Instruct", out, _SMOL_SHRINK)
    write_smollm2_tokenizer(out)
    _save_weights(out, config, seed)
    return out


def build_smolvlm2(out: Path, seed: int = 0) -> Path:
    """A folder laid out like HuggingFaceTB/SmolVLM2-256M-Video-Instruct (shrunk, random weights)."""
    out = Path(out)
    config = _lay_out("SmolVLM2-256M-Video-Instruct", out, _SMOL_SHRINK)
    write_smollm2_tokenizer(out)
    _save_weights(out, config, seed)
    return out


HUB_BUILDERS = {
    "qwen2_5_vl": build_qwen25vl,
    "qwen3_vl": build_qwen3vl,
    "idefics3": build_smolvlm,
    "smolvlm": build_smolvlm2,
}
