"""The end-to-end quickstart (full and --fast): its own sizes, and the config of every stage it runs.

Each stage's settings are that stage's own config (``TeacherSFTConfig``, ``DistillConfig``, ``RankConfig``, ...); the
quickstart fills in the paths and the seed when it runs (synthesis and model init take all theirs from the quickstart's
own sizes, presets and seed), and builds each command line from the config (``contract.settings.command_line``), so no
stage setting is spelled twice.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from creative4u_small.bench.bench_config import BenchConfig
from creative4u_small.contract.settings import setting
from creative4u_small.distill.evaluate.eval_config import EvalConfig
from creative4u_small.distill.label.label_config import LabelConfig
from creative4u_small.distill.student.distill_config import DistillConfig
from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.runtime.rank_config import RankConfig
from creative4u_small.runtime.selector_config import SelectorConfig

# Stage times of the full run on the reference machine (docs/training.md, "Stage times"):
# stage -> (unit of work, units it did, seconds it took). The quickstart scales them by this run's work.
REFERENCE_RUN = {
    "teacher-sft": ("steps", 1000, 1069.0),
    "teacher-grpo": ("steps", 160, 234.0),
    "label": ("tokens at most", 1600 * 256, 93.0),
    "distill": ("steps", 800, 359.0),
    "export": ("", 1, 41.0),
}
AT_RUN = "(set when the stage runs)"  # the paths of a stage config: folders under --out


def _stage(config, **settings):
    """A factory of ``config`` with the quickstart's settings; its paths are filled in when the stage runs."""
    paths = {f.name: AT_RUN for f in fields(config) if f.name in ("model", "data", "out", "teacher", "pairs", "export")}
    return lambda: config(**{**paths, **settings})


@dataclass(frozen=True)
class QuickstartConfig:
    train_pairs: int = setting(2000, "Synthetic pairs the teacher is fine-tuned on.")
    label_pairs: int = setting(800, "Unlabelled pairs the teacher labels for distillation.")
    heldout_pairs: int = setting(300, "Held-out synthetic pairs for every accuracy figure.")
    pool_size: int = setting(8, "Creatives in the ranked pool shown in the report.")
    image_size: int = setting(64, "Rendered creative side in pixels.")
    teacher_preset: str = setting("small", "Teacher preset (c4u model init).")
    student_preset: str = setting("mini", "Student preset, smaller than the teacher.")
    seed: int = setting(0, "Seed for data, initialisation and training (every stage's seed).")
    sft: TeacherSFTConfig = setting(help="Teacher CoT-SFT: 4 epochs at 5e-4, 16 rows a step.",
                                    default_factory=_stage(TeacherSFTConfig, epochs=4.0, learning_rate=5e-4, batch_size=16))
    grpo: TeacherGRPOConfig = setting(help="Teacher GRPO: 160 steps at 5e-6 with the text-consistency reward at weight 2 (with fewer steps the "
                                           "teacher's free text keeps contradicting its protocol lines; docs/training.md, 'Teacher GRPO').",
                                      default_factory=_stage(TeacherGRPOConfig, max_steps=160, learning_rate=5e-6, text_consistency_weight=2.0))
    label: LabelConfig = setting(help="Labelling: one greedy rationale per pair and order, up to 256 tokens (a whole synthetic protocol rationale).",
                                 default_factory=_stage(LabelConfig, k=1, temperature=0.0, max_new_tokens=256))
    distill: DistillConfig = setting(help="Distillation: 16 epochs at 1e-3 with 5% warm-up, 16 pairs a step, rationale loss weight 1 with content "
                                          "tokens at 10, the teacher's verdicts alone (docs/training.md, 'Distillation').",
                                     default_factory=_stage(DistillConfig, epochs=16.0, learning_rate=1e-3, warmup_ratio=0.05, batch_size=16,
                                                            rationale_weight=1.0, decision_weight=10.0, label_weight=0.0, save_steps=0))
    eval: EvalConfig = setting(help="Evaluation of the student: rationales of 300 held-out pairs generated and scored, as the student format.",
                               default_factory=_stage(EvalConfig, generate=300, format="student", max_new_tokens=256))
    export: ExportConfig = setting(help="Export of the student with INT8 graphs, calibrated on the held-out pairs.", default_factory=_stage(ExportConfig, int8=True))
    rank: RankConfig = setting(help="Ranking of the held-out pool (pool_size creatives, all returned) with the INT8 graphs.",
                               default_factory=_stage(RankConfig, selector=SelectorConfig(precision="int8")))
    bench: BenchConfig = setting(help="Benchmark of the runtime against the transformers baseline.",
                                 default_factory=_stage(BenchConfig, baseline="transformers", runs=20, batch_sizes=(1, 8, 32), rank_sizes=(8, 16),
                                                        generate_tokens=128))

    def __post_init__(self):
        for name in ("train_pairs", "label_pairs", "heldout_pairs", "image_size", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.pool_size < 2:
            raise ValueError("pool_size must be at least 2")

    def fast(self) -> "QuickstartConfig":
        """A run of a couple of minutes for the end-to-end test: same stages, fewer pairs and steps.

        Its `tiny` teacher is too small and briefly trained to beat chance, so the student mixes in
        ground-truth labels (``label_weight`` 0.7) to have something to learn; in its 40 steps the
        rationale loss (weighted for the full recipe's 800) would drown the verdict, so it weighs little.
        """
        return replace(
            self, train_pairs=60, label_pairs=160, heldout_pairs=60, pool_size=6, image_size=48, teacher_preset="tiny", student_preset="tiny",
            sft=replace(self.sft, epochs=1.0), grpo=replace(self.grpo, max_steps=1), label=replace(self.label, max_new_tokens=16),
            distill=replace(self.distill, epochs=4.0, warmup_ratio=0.0, rationale_weight=0.05, decision_weight=1.0, label_weight=0.7),
            eval=replace(self.eval, generate=20, max_new_tokens=16),
            bench=replace(self.bench, runs=3, batch_sizes=(1, 8), rank_sizes=(6,), generate_tokens=16),
        )
