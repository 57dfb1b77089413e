"""What the two teacher stages (CoT-SFT, GRPO) set alike beyond every training stage's fields."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract.settings import setting
from creative4u_small.distill.training_config import TrainingConfig


@dataclass(frozen=True)
class TeacherConfig(TrainingConfig):
    """A teacher stage: both image orders, activation checkpointing, bf16 where the GPU has it."""
    FLAGS = {**TrainingConfig.FLAGS, "both_orders": "--both-orders/--one-order"}  # command-line spellings other than --field-name

    activation_checkpointing: bool = setting(
        False, "Recompute activations in the backward pass to save memory (trl turns it on by default; off here, where it only slows small models)."
    )
    both_orders: bool = setting(True, "Show every pair in both image orders (A first, then B first) to fight position bias.")

    def teacher_args(self) -> dict:
        """The trainer arguments of a teacher stage beyond ``training_run.trainer_arguments``: bf16 only on a GPU that has it."""
        import torch

        return dict(bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
                    activation_checkpointing=self.activation_checkpointing)
