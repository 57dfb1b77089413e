"""The model families the pipeline supports: the one place that knows each of them.

A family is keyed by the ``model_type`` of a checkpoint's ``config.json`` (as optimum's exporters
key their per-architecture configs). It says:

- which roles it can take (teacher, student) and which hub checkpoints it covers;
- how its prompt shows an image: a *framed* family (Idefics3, SmolVLM2) writes a fixed block of
  ``image_seq_len`` image tokens per creative around one square frame, so the verdict scorer
  encodes each distinct image once, places the features itself and numbers positions 1-D, and the
  exporter can split vision and judge graphs; any other family goes through its processor
  (``processor(text, images)``: the processor expands the image placeholders, the model computes its
  own position ids — 3-D M-RoPE for Qwen — and its own image features), and the verdict is read at
  the answer position of the model's logits;
- where its frames come from: every family's image processor runs on its Pillow backend (never the
  torchvision one, whose pixels differ), and framed families see one frame per creative (hub SmolVLM
  processors split images into tiles; the exported judge takes one frame, so every stage does);
- which processor attribute names the global-image tag of a framed block.

Torch-free: the scorer (``scorer.py``) and the loaders (``checkpoint.py``) do the work, asking here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.artifacts import load_json

TEACHER, STUDENT = "teacher", "student"


@dataclass(frozen=True)
class Family:
    """One model family: what it can do in the pipeline and how its prompt shows an image."""

    name: str
    model_types: tuple[str, ...]
    roles: tuple[str, ...]
    hub_examples: tuple[str, ...]
    framed: bool
    processor_class: str = ""
    global_image_attr: str = ""

    def image_block(self, processor) -> str:
        """What one image placeholder becomes in a framed family's prompt (one unsplit frame)."""
        if not self.framed:
            raise ValueError(f"{self.name} prompts are built by the model's processor, not from a fixed image block")
        return (
            processor.fake_image_token + getattr(processor, self.global_image_attr)
            + processor.image_token * processor.image_seq_len + processor.fake_image_token
        )


FAMILIES: tuple[Family, ...] = (
    Family(
        "Idefics3 / SmolVLM", ("idefics3",), (TEACHER, STUDENT),
        ("HuggingFaceTB/SmolVLM-256M-Instruct", "HuggingFaceTB/SmolVLM-500M-Instruct"),
        framed=True, processor_class="Idefics3Processor", global_image_attr="global_image_tag",
    ),
    Family(
        "SmolVLM2", ("smolvlm",), (TEACHER, STUDENT),
        ("HuggingFaceTB/SmolVLM2-256M-Video-Instruct", "HuggingFaceTB/SmolVLM2-500M-Video-Instruct"),
        framed=True, processor_class="SmolVLMProcessor", global_image_attr="global_image_token",
    ),
    Family("Qwen2.5-VL", ("qwen2_5_vl",), (TEACHER,), ("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),
           framed=False, processor_class="Qwen2_5_VLProcessor"),
    Family("Qwen3-VL", ("qwen3_vl",), (TEACHER,), ("Qwen/Qwen3-VL-2B-Instruct", "Qwen/Qwen3-VL-8B-Instruct"),
           framed=False, processor_class="Qwen3VLProcessor"),
)
GENERIC = Family("other image-text-to-text models", (), (TEACHER,), (), framed=False)
_BY_TYPE = {t: f for f in FAMILIES for t in f.model_types}


def supported(role: str) -> str:
    """One line naming the families (and model types) that can take ``role``."""
    names = [f"{f.name} ({', '.join(f.model_types)})" for f in FAMILIES if role in f.roles]
    if role in GENERIC.roles:
        names.append("any other image-text-to-text model through its processor")
    return "; ".join(names)


def family_for(model_type: str, role: str = TEACHER, where: str = "model") -> Family:
    """The family of ``model_type`` for ``role``, or a one-line error naming what is supported."""
    family = _BY_TYPE.get(model_type, GENERIC)
    if role not in family.roles:
        raise ValueError(f"{where}: model type {model_type!r} cannot be a {role}; supported {role}s: {supported(role)}")
    return family


def model_type_of(path: str | Path) -> str:
    """``model_type`` from a model folder's ``config.json``, with a clear error when there is none."""
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{path}: no config.json; expected a Hugging Face model folder (c4u model init, c4u distill, or a hub download)")

    return str(load_json(cfg_file, "re-save the model").get("model_type", "unknown"))


def family_of_processor(processor) -> Family:
    """The family whose processor class ``processor`` is (the generic path for any other)."""
    name = type(processor).__name__
    return next((f for f in FAMILIES if f.processor_class == name), GENERIC)


def support_table() -> str:
    """The family table of docs/families.md, from the registry (a test keeps the page in step)."""
    rows = ["| family | model_type | hub checkpoints | teacher | student (distill, export, runtime) |", "|---|---|---|---|---|"]
    for f in (*FAMILIES, GENERIC):
        rows.append(
            f"| {f.name} | {', '.join(f'`{t}`' for t in f.model_types) or 'any'} | {', '.join(f.hub_examples) or '—'} | "
            f"{'yes' if TEACHER in f.roles else 'no'} | {'yes' if STUDENT in f.roles else 'no'} |"
        )
    return "\n".join(rows)
