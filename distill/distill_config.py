"""Configuration of `c4u distill`: one frozen dataclass, each field documented once."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from creative4u_small.settings import setting


@dataclass(frozen=True)
class DistillConfig:
    """Everything one distillation run depends on; written beside the student it produces."""

    student: str = setting(None, "Student checkpoint folder (Idefics3/SmolVLM, e.g. from `c4u model init`) or hub id.")
    labels: str = setting(None, "Labelled CreativePair JSONL: every line needs teacher.p_a or a label.")
    out: str = setting(None, "Output folder for the distilled student, report.json and log.jsonl.")
    eval_pairs: str | None = setting(None, "Held-out pairs evaluated after training (report.json 'eval').")
    epochs: float = setting(1.0, "Passes over the labelled pairs (ignored when max_steps > 0).")
    max_steps: int = setting(-1, "Optimiser steps; overrides epochs when > 0.")
    batch_size: int = setting(8, "Pairs per step per device (each pair is seen in both orders).")
    grad_accum: int = setting(1, "Gradient accumulation steps.")
    learning_rate: float = setting(3e-4, "Peak AdamW learning rate (3e-4 suits the from-scratch presets).")
    weight_decay: float = setting(0.0, "AdamW weight decay.")
    warmup_ratio: float = setting(0.0, "Fraction of steps with a linear warm-up.")
    lr_scheduler: str = setting("linear", "Learning-rate schedule (transformers name: linear, cosine, constant, ...).")
    rationale_weight: float = setting(0.1, "Weight of the rationale token loss; 0 skips the rationale forward entirely.")
    decision_weight: float = setting(10.0, "Rationale loss weight of the content tokens (comparison signs, creative letters) against 1 for the template.")
    max_rationale_tokens: int = setting(256, "Rationale tokens learned per row (after <answer>X); longer ones are cut.")
    label_weight: float = setting(0.0, "Share of the ground-truth label in the verdict target where a pair has both.")
    lora: bool = setting(False, "Train LoRA adapters (peft) instead of all weights; the saved student is merged.")
    lora_r: int = setting(16, "LoRA rank.")
    lora_alpha: int = setting(0, "LoRA alpha; 0 means 2 × rank (as for the teacher).")
    lora_dropout: float = setting(0.0, "LoRA dropout.")
    lora_targets: tuple[str, ...] = setting(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), "Module names LoRA adapts."
    )
    seed: int = setting(0, "Seed for initialisation of adapters, data order and dropout.")
    save_steps: int = setting(200, "Checkpoint every N steps under out/checkpoints (0: only at the end).")
    save_total_limit: int = setting(2, "Checkpoints kept.")
    logging_steps: int = setting(1, "Steps between log.jsonl lines.")
    resume: bool = setting(False, "Resume from the latest checkpoint of an interrupted run with the same --out.")
    overwrite: bool = setting(False, "Replace an existing output folder.")
    eval_batch_size: int = setting(16, "Pairs per batch when evaluating.")
    num_workers: int = setting(0, "DataLoader workers (0: load images in the training process).")

    def __post_init__(self):
        for name in ("student", "labels", "out"):
            if not getattr(self, name):
                raise ValueError(f"{name} is required")
        if self.batch_size < 1 or self.grad_accum < 1 or self.eval_batch_size < 1:
            raise ValueError("batch_size, grad_accum and eval_batch_size must be at least 1")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("give epochs > 0 or max_steps > 0")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.rationale_weight < 0:
            raise ValueError(f"rationale_weight must be >= 0, got {self.rationale_weight}")
        if self.decision_weight <= 0:
            raise ValueError(f"decision_weight must be positive, got {self.decision_weight}")
        if not 0.0 <= self.label_weight <= 1.0:
            raise ValueError(f"label_weight must be in [0, 1], got {self.label_weight}")
        if self.max_rationale_tokens < 1:
            raise ValueError("max_rationale_tokens must be at least 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be in [0, 1)")
        if self.lora and (self.lora_r < 1 or self.lora_alpha < 0 or not self.lora_targets):
            raise ValueError("LoRA needs lora_r >= 1, lora_alpha >= 0 (0: 2 × rank) and at least one target module")
        if self.save_steps < 0 or self.logging_steps < 1 or self.save_total_limit < 1:
            raise ValueError("save_steps must be >= 0, logging_steps and save_total_limit >= 1")
        if self.resume and self.overwrite:
            raise ValueError("--resume continues a run and --overwrite discards it; pass one of them")

    def to_dict(self) -> dict:
        return asdict(self)
