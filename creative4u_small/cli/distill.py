"""`c4u distill` and `c4u eval`: distil a student from teacher labels, and measure a selector."""

from __future__ import annotations

import typer

from creative4u_small.cli.common import emit_json, emit_once, friendly_errors, say, with_progress
from creative4u_small.cli.config_options import fields_of, from_config
from creative4u_small.distill.evaluate.eval_config import EvalConfig
from creative4u_small.distill.evaluate.evaluate import evaluate_model
from creative4u_small.distill.student.distill_config import DistillConfig
from creative4u_small.distill.student.distill_trainer import distill


@friendly_errors
@from_config(DistillConfig, fields_of(DistillConfig, exclude=("lora_targets",)))
def distill_cmd(cfg: DistillConfig):
    """Distil a small VLM student from teacher verdicts, answer-first (verdict, then rationale).

    --student: an Idefics3/SmolVLM checkpoint (e.g. from `c4u model init`) or hub id; every line of --labels needs teacher.p_a or a label.
    Example: c4u distill --student models/tiny --labels labelled.jsonl --out students/s1 --epochs 3
    """

    say(f"distilling {cfg.model} on {cfg.data} into {cfg.out}")
    emit_once(with_progress("distill", distill, cfg))


@friendly_errors
@from_config(EvalConfig, fields_of(EvalConfig))
def eval_cmd(cfg: EvalConfig):
    """Accuracy, order consistency, teacher agreement, calibration (ECE) and parse failures, as JSON.

    Example: c4u eval --model students/s1 --pairs test.jsonl --generate 20
    """

    say(f"evaluating {cfg.model} on {cfg.pairs}")
    emit_json(with_progress("eval", evaluate_model, cfg))


def register(app: typer.Typer) -> None:
    app.command("distill")(distill_cmd)
    app.command("eval")(eval_cmd)
