"""Settings of the teacher's chain-of-thought SFT stage (``c4u teacher sft``)."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract.settings import setting
from creative4u_small.distill.teacher.teacher_config import TeacherConfig
from creative4u_small.distill.training_config import stage_default
from creative4u_small.distill.training_run import trainer_arguments


@dataclass(frozen=True)
class TeacherSFTConfig(TeacherConfig):
    """CoT-SFT on the teacher format, loss on the completion only, both image orders."""

    warmup_ratio: float = stage_default("warmup_ratio", 0.03)
    lr_scheduler: str = stage_default("lr_scheduler", "cosine")
    decision_weight: float = setting(10.0, "Loss weight of the comparison tokens (the >, =, < of each protocol line) against 1 for the rest of the rationale; 1 is plain SFT.")

    def __post_init__(self):
        super().__post_init__()
        if self.decision_weight <= 0:
            raise ValueError(f"decision_weight must be positive, got {self.decision_weight}")

    def training_args(self, output_dir: str):
        """trl's SFTConfig: no length cut (image tokens would be cut), completion-only loss."""
        from trl import SFTConfig

        return trainer_arguments(self, output_dir, SFTConfig, max_length=None, completion_only_loss=True, **self.teacher_args())
