"""Loading image-text-to-text checkpoints: safetensors only, verdict tokens checked up front."""

from __future__ import annotations

from pathlib import Path

from creative4u_small.protocol import verdict_token_ids

SUPPORTED_STUDENTS = ("idefics3",)


def load_model(path: str | Path, *, dtype=None, device: str | None = None, train: bool = False):
    """(model, processor, (id_A, id_B)) from a local folder or hub id; refuses pickle weights."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    local = Path(path)
    if local.exists() and not any(local.glob("*.safetensors")):
        raise ValueError(f"{local}: no *.safetensors weights (pickled checkpoints are never loaded); re-save it with safe_serialization=True")
    processor = AutoProcessor.from_pretrained(str(path))
    ids = verdict_token_ids(processor.tokenizer)
    model = AutoModelForImageTextToText.from_pretrained(str(path), use_safetensors=True, dtype=dtype or torch.float32)
    if device:
        model.to(device)
    model.train(train)
    return model, processor, ids


def model_type(model) -> str:
    return getattr(model.config, "model_type", "unknown")


def require_student(model) -> None:
    if model_type(model) not in SUPPORTED_STUDENTS:
        raise ValueError(
            f"model type {model_type(model)!r} is not a supported student architecture "
            f"({', '.join(SUPPORTED_STUDENTS)}); use an Idefics3/SmolVLM checkpoint"
        )
