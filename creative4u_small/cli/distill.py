"""`c4u distill` and `c4u eval`: distil a student from teacher labels, and measure a selector."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, progress_bar, say


def _progress(description: str):
    """``common.progress_bar`` drawn on stderr, so that stdout carries only the JSON report."""
    from rich.console import Console

    progress, update = progress_bar(description)
    progress.live.console = Console(stderr=True)
    return progress, update


@friendly_errors
def distill_cmd(
    student: str = typer.Option(..., "--student", help="Student checkpoint folder (e.g. from `c4u model init`) or hub id."),
    labels: Path = typer.Option(..., "--labels", help="Labelled pairs JSONL (teacher.p_a or label on every line)."),
    out: Path = typer.Option(..., "--out", help="Output folder for the distilled student."),
    eval_pairs: Path | None = typer.Option(None, "--eval-pairs", help="Held-out pairs evaluated after training."),
    epochs: float = typer.Option(1.0, "--epochs", help="Passes over the labels (ignored with --max-steps)."),
    max_steps: int = typer.Option(-1, "--max-steps", help="Optimiser steps; overrides --epochs when > 0."),
    batch_size: int = typer.Option(8, "--batch-size", help="Pairs per step (each seen in both orders)."),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Gradient accumulation steps."),
    learning_rate: float = typer.Option(3e-4, "--lr", help="Peak AdamW learning rate."),
    warmup_ratio: float = typer.Option(0.0, "--warmup-ratio", help="Fraction of steps with linear warm-up."),
    rationale_weight: float = typer.Option(0.1, "--rationale-weight", help="Weight of the rationale token loss; 0 skips it."),
    max_rationale_tokens: int = typer.Option(256, "--max-rationale-tokens", help="Rationale tokens learned per row."),
    label_weight: float = typer.Option(0.0, "--label-weight", help="Share of ground-truth labels in the verdict target (0-1)."),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters instead of all weights (saved merged)."),
    lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    save_steps: int = typer.Option(200, "--save-steps", help="Checkpoint every N steps (0: none)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run with the same --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
):
    """Distil a small VLM student from teacher verdicts, answer-first (verdict, then rationale).

    Example: c4u distill --student models/tiny --labels labelled.jsonl --out students/s1 --epochs 3
    """
    from creative4u_small.distill.distill_config import DistillConfig
    from creative4u_small.distill.distill_trainer import distill

    cfg = DistillConfig(
        student=student, labels=str(labels), out=str(out), eval_pairs=str(eval_pairs) if eval_pairs else None,
        epochs=epochs, max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum,
        learning_rate=learning_rate, warmup_ratio=warmup_ratio, rationale_weight=rationale_weight,
        max_rationale_tokens=max_rationale_tokens, label_weight=label_weight, lora=lora, lora_r=lora_r,
        lora_alpha=2 * lora_r, seed=seed, save_steps=save_steps, resume=resume, overwrite=overwrite,
    )
    say(f"distilling {student} on {labels} into {out}")
    progress, update = _progress("distill")
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
    progress, update = _progress("eval")
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
