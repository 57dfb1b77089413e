"""Teacher GRPO: trl's ``GRPOTrainer`` with the format, accuracy and consistency rewards.

Prompts are the protocol prompt with both creatives (both orders by default); the ``label``
column reaches the accuracy reward through trl's reward keyword arguments. Rollouts use
transformers' ``generate`` on CPU, or vLLM through trl with ``use_vllm`` on a GPU box.
"""

from __future__ import annotations

import time
from pathlib import Path

from creative4u_small.distill import teacher_run
from creative4u_small.distill.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.rewards import REWARDS
from creative4u_small.distill.sft_trainer import load_training_pairs
from creative4u_small.pairs import CreativePair

STAGE = "teacher-grpo"


def build_grpo_trainer(config: TeacherGRPOConfig, pairs: list[CreativePair], model, processor, progress=None):
    from trl import GRPOTrainer

    from creative4u_small.hf_dataset import prompt_completion_dataset

    dataset = prompt_completion_dataset(pairs, both_orders=config.both_orders, with_completion=False, upright=True)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list(REWARDS.values()),
        args=config.training_args(str(Path(config.out) / teacher_run.CHECKPOINT_DIR)),
        train_dataset=dataset,
        processing_class=processor,
        peft_config=teacher_run.lora_config(config.lora_r, config.lora_alpha, config.lora_dropout),
    )
    return teacher_run.report_to(trainer, progress, Path(config.out))


def train_grpo(config: TeacherGRPOConfig, progress=None) -> dict:
    """Run GRPO and save the (merged) model into ``config.out``; returns a summary with reward means."""
    started = time.time()
    pairs = load_training_pairs(Path(config.data), need_rationale=False)
    unlabelled = [p.id for p in pairs if p.label is None]
    if unlabelled:
        raise ValueError(f"{config.data}: pair {unlabelled[0]!r} has no label ({len(unlabelled)} pairs lack one); the accuracy reward needs a label on every pair")
    resume_from = teacher_run.prepare_run_folder(Path(config.out), config, STAGE)
    notes: dict = {}
    model, processor = teacher_run.load_teacher(config.model, notes)
    before = teacher_run.weights_fingerprint(model)
    trainer = build_grpo_trainer(config, pairs, model, processor, progress)
    trainer.train(resume_from_checkpoint=resume_from)
    logs = [h for h in trainer.state.log_history if "reward" in h]
    summary = {
        **teacher_run.train_summary(trainer, resume_from, started),
        "pairs": len(pairs),
        "lora": config.lora_r > 0,
        **notes,
        "reward_first": logs[0]["reward"] if logs else None,
        "reward_last": logs[-1]["reward"] if logs else None,
        "reward_means_last": {k: v for k, v in (logs[-1] if logs else {}).items() if k.startswith("rewards/") and k.endswith("/mean")},
        "weights_changed": None,
    }
    final = teacher_run.save_final(trainer, processor, Path(config.out), STAGE, config, summary)
    summary["weights_changed"] = teacher_run.weights_fingerprint(final) != before
    return summary
