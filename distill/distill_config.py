"""Configuration of `c4u distill`: one frozen dataclass, each field documented once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


def _h(text: str, default=None, **kw):
    return field(default=default, metadata={"help": text}, **kw)


@dataclass(frozen=True)
class DistillConfig:
    """Everything one distillation run depends on; written beside the student it produces."""

    student: str = _h("Student checkpoint folder (Idefics3/SmolVLM, e.g. from `c4u model init`) or hub id.")
    labels: str = _h("Labelled CreativePair JSONL: every line needs teacher.p_a or a label.")
    out: str = _h("Output folder for the distilled student, report.json and log.jsonl.")
    eval_pairs: str | None = _h("Held-out pairs evaluated after training (report.json 'eval').")
    epochs: float = _h("Passes over the labelled pairs (ignored when max_steps > 0).", 1.0)
    max_steps: int = _h("Optimiser steps; overrides epochs when > 0.", -1)
    batch_size: int = _h("Pairs per step per device (each pair is seen in both orders).", 8)
    grad_accum: int = _h("Gradient accumulation steps.", 1)
    learning_rate: float = _h("Peak AdamW learning rate (3e-4 suits the from-scratch presets).", 3e-4)
    weight_decay: float = _h("AdamW weight decay.", 0.0)
    warmup_ratio: float = _h("Fraction of steps with a linear warm-up.", 0.0)
    lr_scheduler: str = _h("Learning-rate schedule (transformers name: linear, cosine, constant, ...).", "linear")
    rationale_weight: float = _h("Weight of the rationale token loss; 0 skips the rationale forward entirely.", 0.1)
    decision_weight: float = _h("Rationale loss weight of the content tokens (comparison signs, creative letters) against 1 for the template.", 10.0)
    max_rationale_tokens: int = _h("Rationale tokens learned per row (after <answer>X); longer ones are cut.", 256)
    label_weight: float = _h("Share of the ground-truth label in the verdict target where a pair has both.", 0.0)
    lora: bool = _h("Train LoRA adapters (peft) instead of all weights; the saved student is merged.", False)
    lora_r: int = _h("LoRA rank.", 16)
    lora_alpha: int = _h("LoRA alpha.", 32)
    lora_dropout: float = _h("LoRA dropout.", 0.0)
    lora_targets: tuple[str, ...] = _h(
        "Module names LoRA adapts.", ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    )
    seed: int = _h("Seed for initialisation of adapters, data order and dropout.", 0)
    save_steps: int = _h("Checkpoint every N steps under out/checkpoints (0: only at the end).", 200)
    save_total_limit: int = _h("Checkpoints kept.", 2)
    logging_steps: int = _h("Steps between log.jsonl lines.", 1)
    resume: bool = _h("Resume from the latest checkpoint of an interrupted run with the same --out.", False)
    overwrite: bool = _h("Replace an existing output folder.", False)
    eval_batch_size: int = _h("Pairs per batch when evaluating.", 16)
    num_workers: int = _h("DataLoader workers (0: load images in the training process).", 0)

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
        if self.lora and (self.lora_r < 1 or self.lora_alpha < 1 or not self.lora_targets):
            raise ValueError("LoRA needs lora_r >= 1, lora_alpha >= 1 and at least one target module")
        if self.save_steps < 0 or self.logging_steps < 1 or self.save_total_limit < 1:
            raise ValueError("save_steps must be >= 0, logging_steps and save_total_limit >= 1")
        if self.resume and self.overwrite:
            raise ValueError("--resume continues a run and --overwrite discards it; pass one of them")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in fields(cls)}
