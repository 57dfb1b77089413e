"""What every training stage (teacher CoT-SFT, GRPO, student distillation) sets alike, declared once.

Each stage's config subclasses ``TrainingConfig`` and adds its own fields, as trl's ``SFTConfig``
and ``GRPOConfig`` extend ``transformers.TrainingArguments``. A stage that needs another default
for a shared field says so with ``stage_default``, which keeps the shared help text and may add
the stage's reason for the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract.settings import help_of, setting


@dataclass(frozen=True)
class TrainingConfig:
    """Model, data, output folder, optimiser, schedule, LoRA, checkpoints and resumption of one training run."""
    FLAGS = {"learning_rate": "--lr"}  # command-line spellings other than --field-name

    model: str = setting(help="Model folder (Hugging Face format, safetensors) or hub id that training starts from.")
    data: str = setting(help="CreativePair JSONL to train on (what every pair must carry is in the command's help).")
    out: str = setting(help="Output folder: the run works in <out>.partial (resolved config, train_log.jsonl, "
                            "checkpoints) and the finished model lands in <out> in one rename.")
    epochs: float = setting(1.0, "Passes over the data (ignored when max_steps > 0).")
    max_steps: int = setting(-1, "Optimizer steps; -1 runs `epochs` passes.")
    batch_size: int = setting(8, "Examples per device per step: rows for teacher SFT (two per pair with both orders), "
                                 "completions for GRPO (a multiple of num_generations), pairs for distillation (each "
                                 "seen in both orders).")
    grad_accum: int = setting(1, "Gradient accumulation steps.")
    learning_rate: float = setting(3e-4, "Peak learning rate (3e-4 learns the from-scratch presets; 1e-3 stalls).")
    warmup_ratio: float = setting(0.0, "Share of the steps spent warming the learning rate up (rounded down).")
    lr_scheduler: str = setting("linear", "Learning-rate schedule after warm-up (transformers name: linear, cosine, "
                                          "constant_with_warmup, ...).")
    weight_decay: float = setting(0.0, "AdamW weight decay.")
    lora_r: int = setting(0, "LoRA rank; 0 trains every weight (full fine-tune). The saved model is merged.")
    lora_alpha: int = setting(0, "LoRA alpha; 0 means 2 × rank.")
    lora_dropout: float = setting(0.0, "LoRA dropout.")
    seed: int = setting(0, "Random seed (adapter initialisation, data order, dropout, sampling).")
    save_steps: int = setting(200, "Checkpoint every N steps, for --resume (0: no checkpoints).")
    save_total_limit: int = setting(2, "Checkpoints kept.")
    logging_steps: int = setting(10, "Steps between lines of train_log.jsonl.")
    num_workers: int = setting(0, "DataLoader worker processes (0: load images in the training process).")
    resume: bool = setting(False, "Continue from the last checkpoint: of the interrupted run in <out>.partial, else "
                                  "of the finished one in <out>. The settings must be the run's own, but for "
                                  "epochs, max_steps and how often it checkpoints and logs.")
    overwrite: bool = setting(False, "Start afresh: discard an interrupted run, and replace <out> once the new model is ready.")

    def __post_init__(self):
        for name in ("model", "data", "out"):
            if not getattr(self, name):
                raise ValueError(f"{name} is required")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be positive or -1 (use epochs), got {self.max_steps}")
        if self.max_steps == -1 and self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        for name in ("batch_size", "grad_accum", "save_total_limit", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("save_steps", "num_workers", "weight_decay", "lora_r", "lora_alpha"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)} (lora_r 0 = full fine-tune)")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        for name in ("warmup_ratio", "lora_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite contradict each other; pick one")


def stage_default(name: str, default, why: str = ""):
    """The shared field ``name`` with a stage's own default; ``why`` is appended to the shared help."""
    return setting(default, f"{help_of(TrainingConfig, name)} {why}".strip())
