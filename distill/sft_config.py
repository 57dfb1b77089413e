"""Settings of the teacher's chain-of-thought SFT stage (``c4u teacher sft``)."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.settings import setting


ACTIVATION_CHECKPOINTING_HELP = (
    "Recompute activations in the backward pass to save memory (trl turns it on by default; off here, where it only slows small models)."
)


@dataclass(frozen=True)
class TeacherSFTConfig:
    """CoT-SFT on the teacher format, loss on the completion only, both image orders."""

    model: str = setting(help="Model folder (Hugging Face format, safetensors) to fine-tune.")
    data: str = setting(help="CreativePair JSONL whose pairs carry a protocol-format `rationale`.")
    out: str = setting(help="Run folder: run config, checkpoints, then the trained model.")
    lora_r: int = setting(help="LoRA rank; 0 trains every weight (full fine-tune).", default=0)
    lora_alpha: int = setting(help="LoRA alpha; 0 means 2 × rank.", default=0)
    lora_dropout: float = setting(help="LoRA dropout.", default=0.0)
    epochs: float = setting(help="Passes over the data (ignored when max_steps > 0).", default=1.0)
    max_steps: int = setting(help="Optimizer steps; -1 runs `epochs` passes.", default=-1)
    batch_size: int = setting(help="Rows per device per step (each pair gives two rows, one per order).", default=8)
    grad_accum: int = setting(help="Gradient accumulation steps.", default=1)
    learning_rate: float = setting(help="Peak learning rate (3e-4 learns the from-scratch presets; 1e-3 stalls).", default=3e-4)
    warmup_ratio: float = setting(help="Share of steps spent warming the learning rate up.", default=0.03)
    lr_scheduler: str = setting(help="Learning-rate schedule after warm-up (transformers name: cosine, linear, constant_with_warmup, ...).", default="cosine")
    weight_decay: float = setting(help="AdamW weight decay.", default=0.0)
    decision_weight: float = setting(help="Loss weight of the comparison tokens (the >, =, < of each protocol line) against 1 for the rest of the rationale; 1 is plain SFT.", default=10.0)
    activation_checkpointing: bool = setting(help=ACTIVATION_CHECKPOINTING_HELP, default=False)
    both_orders: bool = setting(help="Train on both image orders (swapped rationale and label) to fight position bias.", default=True)
    save_steps: int = setting(help="Checkpoint every N steps (for --resume).", default=200)
    save_total_limit: int = setting(help="Checkpoints kept.", default=2)
    logging_steps: int = setting(help="Log the loss every N steps.", default=10)
    seed: int = setting(help="Random seed.", default=0)
    num_workers: int = setting(help="DataLoader worker processes.", default=0)
    resume: bool = setting(help="Continue from the last checkpoint in --out (same settings).", default=False)
    overwrite: bool = setting(help="Replace whatever --out holds.", default=False)

    def __post_init__(self):
        if self.lora_r < 0 or self.lora_alpha < 0:
            raise ValueError("lora_r and lora_alpha must be >= 0 (lora_r 0 = full fine-tune)")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be positive or -1 (use epochs), got {self.max_steps}")
        if self.max_steps == -1 and self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        for name in ("batch_size", "grad_accum", "save_steps", "save_total_limit", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.decision_weight <= 0:
            raise ValueError(f"decision_weight must be positive, got {self.decision_weight}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.num_workers < 0:
            raise ValueError("num_workers must be >= 0")
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite contradict each other; pick one")

    def training_args(self, output_dir: str):
        """trl's SFTConfig: no length cut (image tokens would be cut), bf16 off on CPU, completion-only loss."""
        from trl import SFTConfig

        from creative4u_small.distill.schedule import warmup_steps

        return SFTConfig(
            **teacher_training_args(self, output_dir),
            max_length=None,
            completion_only_loss=True,
            warmup_steps=warmup_steps(self.warmup_ratio, self.max_steps),
            weight_decay=self.weight_decay,
            lr_scheduler_type=self.lr_scheduler,
            dataloader_num_workers=self.num_workers,
        )


def teacher_training_args(config, output_dir: str) -> dict:
    """The trainer arguments both teacher stages (SFT, GRPO) set alike from their configs: bf16 only on a GPU
    that has it, checkpoints every ``save_steps`` for --resume, no tqdm and no reporting (the CLI draws a bar)."""
    import torch

    return dict(
        output_dir=output_dir,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        use_cpu=not torch.cuda.is_available(),
        activation_checkpointing=config.activation_checkpointing,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        logging_steps=config.logging_steps,
        seed=config.seed,
        report_to=[],
        remove_unused_columns=False,
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
    )
