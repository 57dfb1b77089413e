"""Settings of the teacher's GRPO stage (``c4u teacher grpo``)."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract.settings import setting
from creative4u_small.distill.teacher.teacher_config import TeacherConfig
from creative4u_small.distill.training_config import stage_default
from creative4u_small.distill.training_run import trainer_arguments


@dataclass(frozen=True)
class TeacherGRPOConfig(TeacherConfig):
    """GRPO on sampled teacher completions, rewarded for format, accuracy and consistency."""

    learning_rate: float = stage_default("learning_rate", 1e-6, "GRPO's default is trl's: a teacher fresh from CoT-SFT "
                                         "is already sharp, and larger steps undo it (docs/training.md, 'Teacher GRPO').")
    save_steps: int = stage_default("save_steps", 100)
    logging_steps: int = stage_default("logging_steps", 5)
    format_weight: float = setting(1.0, "Weight of the format reward (tags, Q1–Q9 lines in the protocol vocabulary).")
    accuracy_weight: float = setting(1.0, "Weight of the accuracy reward (answer equals the label).")
    consistency_weight: float = setting(0.5, "Weight of the consistency reward (answer agrees with the balance of Q3–Q9).")
    text_consistency_weight: float = setting(0.5, "Weight of the text-consistency reward (free reasoning says what the Q3–Q9 lines say).")
    num_generations: int = setting(4, "Completions sampled per prompt (the GRPO group size).")
    max_completion_length: int = setting(256, "Most tokens generated per completion.")
    temperature: float = setting(1.0, "Sampling temperature of the rollouts.")
    beta: float = setting(0.0, "KL coefficient against the starting model (0 loads no reference model).")
    use_vllm: bool = setting(False, "Generate rollouts with vLLM (GPU boxes; passed through to trl).")
    vllm_mode: str = setting("colocate", "trl's vLLM mode: 'colocate' (same GPU) or 'server' (`trl vllm-serve`).")

    def __post_init__(self):
        super().__post_init__()
        if any(w < 0 for w in self.reward_weights) or not any(self.reward_weights):
            raise ValueError("reward weights must be >= 0 and not all 0")
        if self.num_generations < 2:
            raise ValueError(f"num_generations must be at least 2 (GRPO compares completions within a group), got {self.num_generations}")
        if self.batch_size % self.num_generations:
            raise ValueError(f"batch_size {self.batch_size} must be a positive multiple of num_generations {self.num_generations}")
        if self.max_completion_length < 1:
            raise ValueError("max_completion_length must be at least 1")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if self.beta < 0:
            raise ValueError("beta must be >= 0")
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be 'colocate' or 'server', got {self.vllm_mode!r}")

    @property
    def reward_weights(self) -> list[float]:
        """Weights in the order of ``rewards.REWARDS`` (format, accuracy, consistency, text consistency)."""
        return [self.format_weight, self.accuracy_weight, self.consistency_weight, self.text_consistency_weight]

    def training_args(self, output_dir: str):
        """trl's GRPOConfig; vLLM only when asked."""
        from trl import GRPOConfig

        return trainer_arguments(
            self, output_dir, GRPOConfig, num_generations=self.num_generations, max_completion_length=self.max_completion_length,
            temperature=self.temperature, beta=self.beta, reward_weights=self.reward_weights, use_vllm=self.use_vllm,
            vllm_mode=self.vllm_mode, **self.teacher_args(),
        )
