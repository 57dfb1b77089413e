"""Settings of the teacher's GRPO stage (``c4u teacher grpo``)."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.distill.sft_config import ACTIVATION_CHECKPOINTING_HELP, teacher_training_args
from creative4u_small.settings import setting


@dataclass(frozen=True)
class TeacherGRPOConfig:
    """GRPO on sampled teacher completions, rewarded for format, accuracy and consistency."""

    model: str = setting(help="Model folder to improve (usually the output of `c4u teacher sft`).")
    data: str = setting(help="CreativePair JSONL with a label on every pair.")
    out: str = setting(help="Run folder: run config, checkpoints, then the trained model.")
    format_weight: float = setting(help="Weight of the format reward (tags, Q1–Q9 lines in the protocol vocabulary).", default=1.0)
    accuracy_weight: float = setting(help="Weight of the accuracy reward (answer equals the label).", default=1.0)
    consistency_weight: float = setting(help="Weight of the consistency reward (answer agrees with the balance of Q3–Q9).", default=0.5)
    text_consistency_weight: float = setting(help="Weight of the text-consistency reward (free reasoning says what the Q3–Q9 lines say).", default=0.5)
    num_generations: int = setting(help="Completions sampled per prompt (the GRPO group size).", default=4)
    max_completion_length: int = setting(help="Most tokens generated per completion.", default=256)
    temperature: float = setting(help="Sampling temperature of the rollouts.", default=1.0)
    beta: float = setting(help="KL coefficient against the starting model (0 loads no reference model).", default=0.0)
    lora_r: int = setting(help="LoRA rank; 0 trains every weight (full fine-tune).", default=0)
    lora_alpha: int = setting(help="LoRA alpha; 0 means 2 × rank.", default=0)
    lora_dropout: float = setting(help="LoRA dropout.", default=0.0)
    epochs: float = setting(help="Passes over the data (ignored when max_steps > 0).", default=1.0)
    max_steps: int = setting(help="Optimizer steps; -1 runs `epochs` passes.", default=-1)
    batch_size: int = setting(help="Completions per device per step; a multiple of num_generations.", default=8)
    grad_accum: int = setting(help="Gradient accumulation steps.", default=1)
    learning_rate: float = setting(help="Learning rate (trl's default: a teacher fresh from CoT-SFT is already sharp, and larger steps undo it; README, teacher table).", default=1e-6)
    activation_checkpointing: bool = setting(help=ACTIVATION_CHECKPOINTING_HELP, default=False)
    both_orders: bool = setting(help="Use both image orders of every pair as prompts.", default=True)
    use_vllm: bool = setting(help="Generate rollouts with vLLM (GPU boxes; passed through to trl).", default=False)
    vllm_mode: str = setting(help="trl's vLLM mode: 'colocate' (same GPU) or 'server' (`trl vllm-serve`).", default="colocate")
    save_steps: int = setting(help="Checkpoint every N steps (for --resume).", default=100)
    save_total_limit: int = setting(help="Checkpoints kept.", default=2)
    logging_steps: int = setting(help="Log rewards and loss every N steps.", default=5)
    seed: int = setting(help="Random seed.", default=0)
    resume: bool = setting(help="Continue from the last checkpoint in --out (same settings).", default=False)
    overwrite: bool = setting(help="Replace whatever --out holds.", default=False)

    def __post_init__(self):
        weights = (self.format_weight, self.accuracy_weight, self.consistency_weight, self.text_consistency_weight)
        if any(w < 0 for w in weights) or not any(weights):
            raise ValueError("reward weights must be >= 0 and not all 0")
        if self.num_generations < 2:
            raise ValueError(f"num_generations must be at least 2 (GRPO compares completions within a group), got {self.num_generations}")
        if self.batch_size < 1 or self.batch_size % self.num_generations:
            raise ValueError(f"batch_size {self.batch_size} must be a positive multiple of num_generations {self.num_generations}")
        if self.max_completion_length < 1:
            raise ValueError("max_completion_length must be at least 1")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if self.beta < 0:
            raise ValueError("beta must be >= 0")
        if self.lora_r < 0 or self.lora_alpha < 0 or not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError("lora_r, lora_alpha must be >= 0 and lora_dropout in [0, 1)")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be positive or -1 (use epochs), got {self.max_steps}")
        if self.max_steps == -1 and self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        for name in ("grad_accum", "save_steps", "save_total_limit", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be 'colocate' or 'server', got {self.vllm_mode!r}")
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite contradict each other; pick one")

    @property
    def reward_weights(self) -> list[float]:
        """Weights in the order of ``rewards.REWARDS`` (format, accuracy, consistency, text consistency)."""
        return [self.format_weight, self.accuracy_weight, self.consistency_weight, self.text_consistency_weight]

    def training_args(self, output_dir: str):
        """trl's GRPOConfig; bf16 only on a GPU that has it, vLLM only when asked."""
        from trl import GRPOConfig

        return GRPOConfig(
            **teacher_training_args(self, output_dir),
            num_generations=self.num_generations,
            max_completion_length=self.max_completion_length,
            temperature=self.temperature,
            beta=self.beta,
            reward_weights=self.reward_weights,
            use_vllm=self.use_vllm,
            vllm_mode=self.vllm_mode,
        )
