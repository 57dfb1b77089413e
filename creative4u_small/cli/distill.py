"""`c4u distill` and `c4u eval`: distil a student from teacher labels, and measure a selector."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, option, progress_bar, say
from creative4u_small.distill.distill_config import DistillConfig as D


@friendly_errors
def distill_cmd(
    student: str = option(D, "student", "--student", required=True),
    labels: Path = option(D, "labels", "--labels", required=True),
    out: Path = option(D, "out", "--out", required=True),
    eval_pairs: Path | None = option(D, "eval_pairs", "--eval-pairs"),
    epochs: float = option(D, "epochs", "--epochs"),
    max_steps: int = option(D, "max_steps", "--max-steps"),
    batch_size: int = option(D, "batch_size", "--batch-size"),
    grad_accum: int = option(D, "grad_accum", "--grad-accum"),
    learning_rate: float = option(D, "learning_rate", "--lr"),
    warmup_ratio: float = option(D, "warmup_ratio", "--warmup-ratio"),
    rationale_weight: float = option(D, "rationale_weight", "--rationale-weight"),
    max_rationale_tokens: int = option(D, "max_rationale_tokens", "--max-rationale-tokens"),
    label_weight: float = option(D, "label_weight", "--label-weight"),
    lora: bool = option(D, "lora", "--lora"),
    lora_r: int = option(D, "lora_r", "--lora-r"),
    lora_alpha: int = option(D, "lora_alpha", "--lora-alpha"),
    seed: int = option(D, "seed", "--seed"),
    save_steps: int = option(D, "save_steps", "--save-steps"),
    resume: bool = option(D, "resume", "--resume"),
    overwrite: bool = option(D, "overwrite", "--overwrite"),
):
    """Distil a small VLM student from teacher verdicts, answer-first (verdict, then rationale).

    Example: c4u distill --student models/tiny --labels labelled.jsonl --out students/s1 --epochs 3
    """
    from creative4u_small.distill.distill_trainer import distill

    cfg = D(
        student=student, labels=str(labels), out=str(out), eval_pairs=str(eval_pairs) if eval_pairs else None,
        epochs=epochs, max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum,
        learning_rate=learning_rate, warmup_ratio=warmup_ratio, rationale_weight=rationale_weight,
        max_rationale_tokens=max_rationale_tokens, label_weight=label_weight, lora=lora, lora_r=lora_r,
        lora_alpha=lora_alpha, seed=seed, save_steps=save_steps, resume=resume, overwrite=overwrite,
    )
    say(f"distilling {student} on {labels} into {out}")
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
