"""Teacher CoT-SFT: trl's ``SFTTrainer`` on ``<think>protocol…</think><answer>X</answer>`` completions.

Every pair is shown in both image orders (the swapped row uses
``protocol.swap_teacher_completion``), the loss covers the completion only, LoRA is optional and
merged into the saved model, and the same code runs under ``accelerate launch`` (DDP).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from creative4u_small import protocol
from creative4u_small.pairs import CreativePair, iter_lines, load_pairs
from creative4u_small.distill.sft_config import TeacherSFTConfig
from creative4u_small.distill import teacher_run

STAGE = "teacher-sft"


def require_rationales(pairs: list[CreativePair], path: Path) -> None:
    """Every pair needs a well-formed teacher rationale; the first bad one is named with its line."""
    lines = {}
    for lineno, text in iter_lines(path):
        try:
            lines.setdefault(str(json.loads(text).get("id")), lineno)
        except (json.JSONDecodeError, AttributeError):
            continue
    for pair in pairs:
        where = f"{path}:{lines.get(pair.id, '?')}: rationale"
        if not pair.rationale:
            raise ValueError(f"{where}: missing; teacher SFT needs a <think>protocol lines</think><answer>X</answer> rationale on every pair")
        parsed = protocol.parse_teacher(pair.rationale)
        if isinstance(parsed, protocol.ParseError):
            raise ValueError(f"{where}: not in the teacher format ({parsed.reason}); write <think>…</think><answer>A|B</answer>")
        errors = protocol.protocol_errors(parsed.answers)
        if errors:
            raise ValueError(f"{where}: protocol lines incomplete ({'; '.join(errors[:3])}); answer Q1–Q9 one line each")


def load_training_pairs(path: Path, need_rationale: bool) -> list[CreativePair]:
    """Pairs with decodable images (a bad line stops here, before any model is loaded)."""
    pairs = load_pairs(Path(path), check_images="decode")
    if need_rationale:
        require_rationales(pairs, Path(path))
    return pairs


def build_sft_trainer(config: TeacherSFTConfig, pairs: list[CreativePair], model, processor, progress=None):
    """The trl SFTTrainer for the teacher format (exposed so tests can inspect batches)."""
    from trl import SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from creative4u_small.hf_dataset import prompt_completion_dataset

    dataset = prompt_completion_dataset(pairs, both_orders=config.both_orders, with_completion=True, upright=True)
    collator = DataCollatorForVisionLanguageModeling(processor, max_length=None, completion_only_loss=True)
    return SFTTrainer(
        model=model,
        args=config.training_args(str(Path(config.out) / teacher_run.CHECKPOINT_DIR)),
        train_dataset=dataset,
        processing_class=processor,
        data_collator=collator,
        peft_config=teacher_run.lora_config(config.lora_r, config.lora_alpha, config.lora_dropout),
        callbacks=[teacher_run.progress_callback(progress)],
    )


def train_sft(config: TeacherSFTConfig, progress=None) -> dict:
    """Run CoT-SFT and save the (merged) model into ``config.out``; returns a summary."""
    from creative4u_small.distill.checkpoint import load_model

    started = time.time()
    pairs = load_training_pairs(Path(config.data), need_rationale=True)
    resume_from = teacher_run.prepare_run_folder(Path(config.out), config, STAGE)
    model, processor, _ = load_model(config.model, train=True)
    before = teacher_run.weights_fingerprint(model)
    trainer = build_sft_trainer(config, pairs, model, processor, progress)
    trainer.train(resume_from_checkpoint=resume_from)
    summary = {
        **teacher_run.train_summary(trainer, resume_from, started),
        "pairs": len(pairs),
        "rows": len(trainer.train_dataset),
        "lora": config.lora_r > 0,
    }
    summary["weights_changed"] = None
    final = teacher_run.save_final(trainer, processor, Path(config.out), STAGE, config, summary)
    summary["weights_changed"] = teacher_run.weights_fingerprint(final) != before
    return summary
