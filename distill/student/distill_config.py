"""Settings of `c4u distill`: the shared training fields plus the student's losses and its evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract.settings import setting
from creative4u_small.distill.training_config import TrainingConfig, stage_default
from creative4u_small.distill.training_run import trainer_arguments

STAGE = "distill"  # the run folder's stage name (training_run); `c4u eval` tells a student by it

@dataclass(frozen=True)
class DistillConfig(TrainingConfig):
    """Everything one distillation run depends on; its resolved form is saved beside the student."""
    FLAGS = {**TrainingConfig.FLAGS, "model": "--student", "data": "--labels"}  # command-line spellings other than --field-name

    logging_steps: int = stage_default("logging_steps", 1)
    eval_pairs: str | None = setting(None, "Held-out pairs evaluated after training (report.json 'eval').")
    rationale_weight: float = setting(0.1, "Weight of the rationale token loss; 0 skips the rationale forward entirely.")
    decision_weight: float = setting(10.0, "Rationale loss weight of the content tokens (comparison signs, creative letters) against 1 for the template.")
    max_rationale_tokens: int = setting(256, "Rationale tokens learned per row (after <answer>X); longer ones are cut.")
    label_weight: float = setting(0.0, "Share of the ground-truth label in the verdict target where a pair has both.")
    lora_targets: tuple[str, ...] = setting(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), "Module names LoRA adapts (with lora_r > 0)."
    )
    eval_batch_size: int = setting(16, "Pairs per batch when evaluating.")

    def __post_init__(self):
        super().__post_init__()
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be at least 1, got {self.eval_batch_size}")
        if self.rationale_weight < 0:
            raise ValueError(f"rationale_weight must be >= 0, got {self.rationale_weight}")
        if self.decision_weight <= 0:
            raise ValueError(f"decision_weight must be positive, got {self.decision_weight}")
        if not 0.0 <= self.label_weight <= 1.0:
            raise ValueError(f"label_weight must be in [0, 1], got {self.label_weight}")
        if self.max_rationale_tokens < 1:
            raise ValueError("max_rationale_tokens must be at least 1")
        if self.lora_r and not self.lora_targets:
            raise ValueError("LoRA (lora_r > 0) needs at least one target module")

    def training_args(self, output_dir: str):
        """transformers' TrainingArguments; the soft verdict target is the label column."""
        from transformers import TrainingArguments

        return trainer_arguments(self, output_dir, TrainingArguments, label_names=["target_a"])
