"""`c4u distill` and `c4u eval`: distil a student from teacher labels, and measure a selector."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, progress_bar, say
from creative4u_small.cli.config_options import from_config
from creative4u_small.distill.distill_config import DistillConfig

D = DistillConfig


@friendly_errors
@from_config(D, ("student", "labels", "out", "eval_pairs", "epochs", "max_steps", "batch_size", "grad_accum", "learning_rate",
                 "warmup_ratio", "rationale_weight", "decision_weight", "max_rationale_tokens", "label_weight", "lora", "lora_r", "lora_alpha",
                 "seed", "save_steps", "resume", "overwrite"),
             flags={"learning_rate": "--lr"}, required=("student", "labels", "out"))
def distill_cmd(cfg: DistillConfig):
    """Distil a small VLM student from teacher verdicts, answer-first (verdict, then rationale).

    Example: c4u distill --student models/tiny --labels labelled.jsonl --out students/s1 --epochs 3
    """
    from creative4u_small.distill.distill_trainer import distill

    say(f"distilling {cfg.student} on {cfg.labels} into {cfg.out}")
    progress, update = progress_bar("distill")
    with progress:
        report = distill(cfg, progress=update)
    if os.environ.get("RANK", "0") == "0":  # one report under `accelerate launch` / torchrun
        emit_json(report)


@friendly_errors
def eval_cmd(
    model: Path = typer.Option(..., "--model", help="Teacher or student checkpoint folder."),
    pairs: Path = typer.Option(..., "--pairs", help="Pairs JSONL to evaluate on."),
    generate: int = typer.Option(0, "--generate", help="Also generate outputs for the first N pairs (slow) and parse them."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Generation length for --generate."),
    fmt: str = typer.Option("auto", "--format", help="Output format for --generate parsing: auto, student or teacher."),
    batch_size: int = typer.Option(16, "--batch-size", help="Pairs per batch."),
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON report to this file."),
):
    """Accuracy, order consistency, teacher agreement, calibration (ECE) and parse failures, as JSON.

    Example: c4u eval --model students/s1 --pairs test.jsonl --generate 20
    """
    from creative4u_small.artifacts import write_json_atomic
    from creative4u_small.distill.evaluate import evaluate_model

    say(f"evaluating {model} on {pairs}")
    progress, update = progress_bar("eval")
    with progress:
        report = evaluate_model(model, pairs, batch_size=batch_size, generate=generate,
                                max_new_tokens=max_new_tokens, fmt=fmt, progress=update)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, report)
    emit_json(report)


def register(app: typer.Typer) -> None:
    app.command("distill")(distill_cmd)
    app.command("eval")(eval_cmd)
