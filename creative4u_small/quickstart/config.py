"""Sizes and budgets of the end-to-end quickstart (full and --fast)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from creative4u_small.contract.settings import setting

# The README's full run on the build machine ('Results': stage times of `c4u quickstart`, full config):
# stage -> (unit of work, units it did, seconds it took). The quickstart scales them by this run's work.
REFERENCE_RUN = {
    "teacher-sft": ("steps", 1000, 1069.0),
    "teacher-grpo": ("steps", 160, 340.0),
    "label": ("tokens at most", 1600 * 256, 143.0),
    "distill": ("steps", 800, 435.0),
    "export": ("", 1, 42.0),
}


@dataclass(frozen=True)
class QuickstartConfig:
    train_pairs: int = setting(2000, "Synthetic pairs the teacher is fine-tuned on.")
    label_pairs: int = setting(800, "Unlabelled pairs the teacher labels for distillation.")
    heldout_pairs: int = setting(300, "Held-out synthetic pairs for every accuracy figure.")
    pool_size: int = setting(8, "Creatives in the ranked pool shown in the report.")
    image_size: int = setting(64, "Rendered creative side in pixels.")
    teacher_preset: str = setting("small", "Teacher preset (c4u model init).")
    student_preset: str = setting("mini", "Student preset, smaller than the teacher.")
    sft_epochs: float = setting(4.0, "Teacher CoT-SFT epochs.")
    sft_lr: float = setting(5e-4, "Teacher CoT-SFT learning rate.")
    sft_batch_size: int = setting(16, "Teacher CoT-SFT rows per step.")
    grpo_steps: int = setting(160, "Teacher GRPO steps after SFT (with fewer, the teacher's free text keeps contradicting its protocol lines; README).")
    grpo_lr: float = setting(5e-6, "Teacher GRPO learning rate (160 steps at 5e-6 kept the SFT teacher's accuracy; README).")
    grpo_text_consistency_weight: float = setting(2.0, "Weight of GRPO's text-consistency reward (c4u teacher grpo --text-consistency-weight).")
    label_k: int = setting(1, "Sampled rationales per pair and order when labelling.")
    label_max_new_tokens: int = setting(256, "Rationale length cap when labelling (room for a whole synthetic protocol rationale).")
    label_temperature: float = setting(0.0, "Labelling temperature (0: the teacher's greedy reasoning).")
    distill_epochs: float = setting(16.0, "Student distillation epochs (the rationale needs more steps than the verdict).")
    distill_lr: float = setting(1e-3, "Student distillation peak learning rate (a lower one leaves the mini student's rationale at its unigram plateau; README).")
    distill_warmup_ratio: float = setting(0.05, "Share of distillation steps with a linear warm-up.")
    label_weight: float = setting(0.0, "Share of ground-truth labels in the student's verdict target (c4u distill --label-weight); 0 learns from the teacher alone.")
    distill_batch_size: int = setting(16, "Student distillation pairs per step.")
    rationale_weight: float = setting(1.0, "Weight of the student's rationale loss (content tokens weighted further by c4u distill's decision weight).")
    decision_weight: float = setting(10.0, "Rationale loss weight of its content tokens (c4u distill --decision-weight).")
    eval_generate: int = setting(300, "Held-out pairs whose student rationale is generated and scored (c4u eval --generate).")
    bench_runs: int = setting(20, "Timed compares per benchmark measurement.")
    bench_batch_sizes: str = setting("1,8,32", "Batch sizes for pairs/s in the benchmark.")
    bench_rank_sizes: str = setting("8,16", "Pool sizes for rank time in the benchmark.")
    bench_generate_tokens: int = setting(128, "New tokens of the transformers generate baseline.")
    seed: int = setting(0, "Seed for data, initialisation and training.")

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
        ground-truth labels (``label_weight`` 0.7) to have something to learn; in its 40 steps the
        rationale loss (weighted for the full recipe's 800) would drown the verdict, so it weighs little.
        """
        return replace(self, train_pairs=60, label_pairs=160, heldout_pairs=60, pool_size=6, image_size=48,
                       teacher_preset="tiny", student_preset="tiny", sft_epochs=1.0, grpo_steps=1, label_weight=0.7,
                       label_max_new_tokens=16, eval_generate=20, rationale_weight=0.05, decision_weight=1.0, distill_warmup_ratio=0.0, distill_epochs=4.0, distill_batch_size=16, distill_lr=1e-3, bench_runs=3, bench_batch_sizes="1,8",
                       bench_rank_sizes="6", bench_generate_tokens=16)
