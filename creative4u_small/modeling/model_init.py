"""Write a random-initialised Idefics3 model, its processor and tokenizer for a preset."""

from __future__ import annotations

from pathlib import Path

from creative4u_small.contract.artifacts import atomic_dir, write_provenance
from creative4u_small.modeling.presets import Preset, get_preset
from creative4u_small.modeling.tokenizer_build import CHAT_TEMPLATE, build_tokenizer


def build_processor(preset: Preset):
    from transformers import Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tokenizer = build_tokenizer(preset.vocab_size)
    image_processor = Idefics3ImageProcessorPil(
        do_resize=True,
        size={"longest_edge": preset.image_size},
        max_image_size={"longest_edge": preset.image_size},
        do_image_splitting=False,
        do_pad=True,
    )
    return Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=preset.image_seq_len,
        chat_template=CHAT_TEMPLATE,
    )


def build_model(preset: Preset, tokenizer, seed: int = 0):
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration

    if len(tokenizer) > preset.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens, more than the preset's vocab_size {preset.vocab_size}")
    text_config = dict(
        model_type="llama",
        vocab_size=preset.vocab_size,
        hidden_size=preset.text_hidden,
        intermediate_size=preset.text_intermediate,
        num_hidden_layers=preset.text_layers,
        num_attention_heads=preset.text_heads,
        num_key_value_heads=preset.text_kv_heads,
        max_position_embeddings=preset.max_position_embeddings,
        rope_theta=preset.rope_theta,
        rms_norm_eps=1e-5,
        tie_word_embeddings=preset.tie_word_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    vision_config = dict(
        hidden_size=preset.vision_hidden,
        intermediate_size=preset.vision_intermediate,
        num_hidden_layers=preset.vision_layers,
        num_attention_heads=preset.vision_heads,
        image_size=preset.image_size,
        patch_size=preset.patch_size,
    )
    config = Idefics3Config(
        text_config=text_config,
        vision_config=vision_config,
        scale_factor=preset.scale_factor,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=preset.tie_word_embeddings,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model.eval()


def init_model(preset_name: str, out: Path, seed: int = 0, overwrite: bool = False) -> dict:
    """Save model + processor for a preset into ``out``; returns a summary with the parameter count."""

    preset = get_preset(preset_name)
    processor = build_processor(preset)
    model = build_model(preset, processor.tokenizer, seed)
    n_params = sum(p.numel() for p in model.parameters())
    summary = {"preset": preset.name, "parameters": n_params, "seed": seed}
    with atomic_dir(Path(out), overwrite=overwrite) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        write_provenance(tmp, "model-init", {"preset": preset.__dict__, "seed": seed}, summary)
    return summary
