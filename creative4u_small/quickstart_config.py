"""Sizes and budgets of the end-to-end quickstart (full and --fast)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class QuickstartConfig:
    train_pairs: int = _f(2000, "Synthetic pairs the teacher is fine-tuned on.")
    label_pairs: int = _f(800, "Unlabelled pairs the teacher labels for distillation.")
    heldout_pairs: int = _f(300, "Held-out synthetic pairs for every accuracy figure.")
    pool_size: int = _f(8, "Creatives in the ranked pool shown in the report.")
    image_size: int = _f(64, "Rendered creative side in pixels.")
    teacher_preset: str = _f("small", "Teacher preset (c4u model init).")
    student_preset: str = _f("mini", "Student preset, smaller than the teacher.")
    sft_epochs: float = _f(4.0, "Teacher CoT-SFT epochs.")
    sft_lr: float = _f(5e-4, "Teacher CoT-SFT learning rate.")
    sft_batch_size: int = _f(16, "Teacher CoT-SFT rows per step.")
    grpo_steps: int = _f(2, "Teacher GRPO steps after SFT.")
    label_k: int = _f(1, "Sampled rationales per pair and order when labelling.")
    label_max_new_tokens: int = _f(256, "Rationale length cap when labelling (the synthetic rationales run to ~210 tokens).")
    label_temperature: float = _f(0.0, "Labelling temperature (0: the teacher's greedy reasoning).")
    distill_epochs: float = _f(16.0, "Student distillation epochs (the rationale needs more steps than the verdict).")
    distill_lr: float = _f(1e-3, "Student distillation peak learning rate (3e-4 leaves the mini student's rationale at its unigram plateau).")
    distill_warmup_ratio: float = _f(0.05, "Share of distillation steps with a linear warm-up.")
    label_weight: float = _f(0.0, "Share of ground-truth labels in the student's verdict target (c4u distill --label-weight); 0 learns from the teacher alone.")
    distill_batch_size: int = _f(16, "Student distillation pairs per step.")
    rationale_weight: float = _f(1.0, "Weight of the student's rationale loss (content tokens weighted further by c4u distill's decision weight).")
    eval_generate: int = _f(300, "Held-out pairs whose student rationale is generated and scored (c4u eval --generate).")
    bench_runs: int = _f(20, "Timed compares per benchmark measurement.")
    bench_batch_sizes: str = _f("1,8,32", "Batch sizes for pairs/s in the benchmark.")
    bench_rank_sizes: str = _f("8,16", "Pool sizes for rank time in the benchmark.")
    bench_generate_tokens: int = _f(128, "New tokens of the transformers generate baseline.")
    seed: int = _f(0, "Seed for data, initialisation and training.")

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                raise ValueError(f"{f.name} must be non-negative, got {v}")
        if self.pool_size < 2:
            raise ValueError("pool_size must be at least 2")

    def fast(self) -> "QuickstartConfig":
        """A run of a couple of minutes for the end-to-end test: same stages, fewer pairs and steps.

        Its `tiny` teacher is too small and briefly trained to beat chance, so the student mixes in
        ground-truth labels (``label_weight`` 0.7) to have something to learn.
        """
        return replace(self, train_pairs=60, label_pairs=160, heldout_pairs=60, pool_size=6, image_size=48,
                       teacher_preset="tiny", student_preset="tiny", sft_epochs=1.0, grpo_steps=1, label_weight=0.7,
                       label_max_new_tokens=16, eval_generate=20, distill_epochs=4.0, distill_batch_size=16, distill_lr=1e-3, bench_runs=3, bench_batch_sizes="1,8",
                       bench_rank_sizes="6", bench_generate_tokens=16)
