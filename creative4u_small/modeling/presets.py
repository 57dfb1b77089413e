"""Offline model presets: Idefics3 (SmolVLM architecture) shapes built from config, no download."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """Every dimension of one Idefics3 preset; the tokenizer is trained to ``vocab_size`` at most."""

    name: str
    image_size: int
    patch_size: int
    scale_factor: int
    vision_hidden: int
    vision_layers: int
    vision_heads: int
    vision_intermediate: int
    text_hidden: int
    text_layers: int
    text_heads: int
    text_kv_heads: int
    text_intermediate: int
    vocab_size: int
    max_position_embeddings: int = 2048
    rope_theta: float = 100000.0
    tie_word_embeddings: bool = True

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        side = self.image_size // self.patch_size
        if side % self.scale_factor:
            raise ValueError(f"patches per side {side} must be a multiple of scale_factor {self.scale_factor}")
        if self.text_heads % self.text_kv_heads:
            raise ValueError("text_heads must be a multiple of text_kv_heads")

    @property
    def image_seq_len(self) -> int:
        """Image tokens per image after the pixel-shuffle connector."""
        return (self.image_size // self.patch_size) ** 2 // self.scale_factor**2


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="tiny", image_size=32, patch_size=8, scale_factor=2,
            vision_hidden=32, vision_layers=2, vision_heads=2, vision_intermediate=64,
            text_hidden=32, text_layers=2, text_heads=4, text_kv_heads=2, text_intermediate=64,
            vocab_size=1024,
        ),
        Preset(  # a student smaller than the `small` teacher: same frames and tokenizer, ~375k parameters
            name="mini", image_size=64, patch_size=8, scale_factor=2,
            vision_hidden=64, vision_layers=3, vision_heads=2, vision_intermediate=128,
            text_hidden=64, text_layers=3, text_heads=4, text_kv_heads=2, text_intermediate=128,
            vocab_size=2048,
        ),
        Preset(
            name="small", image_size=64, patch_size=8, scale_factor=2,
            vision_hidden=128, vision_layers=4, vision_heads=4, vision_intermediate=256,
            text_hidden=128, text_layers=4, text_heads=4, text_kv_heads=2, text_intermediate=256,
            vocab_size=2048,
        ),
        Preset(
            name="smolvlm-256m-shape", image_size=512, patch_size=16, scale_factor=4,
            vision_hidden=768, vision_layers=12, vision_heads=12, vision_intermediate=3072,
            text_hidden=576, text_layers=30, text_heads=9, text_kv_heads=3, text_intermediate=1536,
            vocab_size=49280, max_position_embeddings=8192, tie_word_embeddings=False,
        ),
    )
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]
