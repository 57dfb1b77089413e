"""`c4u teacher sft`, `c4u teacher grpo` and `c4u label`: Reason-to-Select RFT and teacher labelling.

Each option's type, default and help come from the stage config's field (``cli.config_options``), written once there.
"""

from __future__ import annotations

import typer

from creative4u_small.cli.common import emit_json, emit_once, friendly_errors, say, with_progress
from creative4u_small.cli.config_options import fields_of, from_config
from creative4u_small.distill.label.label import label_pairs
from creative4u_small.distill.label.label_config import LabelConfig
from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.teacher.grpo_trainer import train_grpo
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
from creative4u_small.distill.teacher.sft_trainer import train_sft

app = typer.Typer(help="Teacher Reason-to-Select RFT: CoT-SFT, then GRPO.", no_args_is_help=True)


@app.command("sft")
@friendly_errors
@from_config(TeacherSFTConfig, fields_of(TeacherSFTConfig))
def sft(cfg: TeacherSFTConfig):
    """Chain-of-thought SFT of the teacher on <think>protocol…</think><answer>X</answer>, both image orders.

    Every pair of --data needs a protocol-format `rationale`.
    Example: c4u teacher sft --model models/small --data data/synth/pairs.jsonl --out teachers/sft --epochs 3
    """

    say(f"teacher CoT-SFT of {cfg.model} on {cfg.data} into {cfg.out}")
    emit_once(with_progress("teacher sft", train_sft, cfg))


@app.command("grpo")
@friendly_errors
@from_config(TeacherGRPOConfig, fields_of(TeacherGRPOConfig))
def grpo(cfg: TeacherGRPOConfig):
    """GRPO of the teacher with format, accuracy and consistency rewards (weights are options).

    --model is usually the output of `c4u teacher sft`; every pair of --data needs a label.
    Example: c4u teacher grpo --model teachers/sft --data data/synth/pairs.jsonl --out teachers/grpo --max-steps 50
    """

    say(f"teacher GRPO of {cfg.model} on {cfg.data} into {cfg.out}")
    emit_once(with_progress("teacher grpo", train_grpo, cfg))


@friendly_errors
@from_config(LabelConfig, fields_of(LabelConfig))
def label(cfg: LabelConfig):
    """Label pairs with a teacher: K rationales per order, teacher.p_a, teacher.verdict, the kept rationale.

    Example: c4u label --teacher teachers/grpo --pairs data/synth/pairs.jsonl --out data/labelled.jsonl --k 4
    """

    say(f"labelling {cfg.pairs} with {cfg.teacher} into {cfg.out}")
    emit_json(with_progress("label", label_pairs, cfg, warn=say))


def register(app_: typer.Typer) -> None:
    """Add `c4u teacher …` and `c4u label` to the top-level app."""
    app_.add_typer(app, name="teacher")
    app_.command("label")(label)
