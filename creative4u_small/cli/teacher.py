"""`c4u teacher sft`, `c4u teacher grpo` and `c4u label`: Reason-to-Select RFT and teacher labelling.

Option help comes from the stage configs' field metadata, so it is written once.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, progress_bar, say
from creative4u_small.distill.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.label_config import LabelConfig
from creative4u_small.distill.sft_config import TeacherSFTConfig

app = typer.Typer(help="Teacher Reason-to-Select RFT: CoT-SFT, then GRPO.", no_args_is_help=True)


def _h(config, name: str) -> str:
    return config.__dataclass_fields__[name].metadata["help"]


def _emit_once(summary: dict) -> None:
    """Print the JSON summary from the main process only (``accelerate launch`` runs several)."""
    if int(os.environ.get("RANK", "0")) == 0:
        emit_json(summary)


def _progress(description: str):
    """A progress bar on stderr, so that stdout carries only the JSON summary."""
    from rich.console import Console

    progress, update = progress_bar(description)
    progress.live.console = Console(stderr=True)
    return progress, update


S, G, L = TeacherSFTConfig, TeacherGRPOConfig, LabelConfig


@app.command("sft")
@friendly_errors
def sft(
    model: str = typer.Option(..., "--model", help=_h(S, "model")),
    data: Path = typer.Option(..., "--data", help=_h(S, "data")),
    out: Path = typer.Option(..., "--out", help=_h(S, "out")),
    lora_r: int = typer.Option(0, "--lora-r", help=_h(S, "lora_r")),
    lora_alpha: int = typer.Option(0, "--lora-alpha", help=_h(S, "lora_alpha")),
    epochs: float = typer.Option(1.0, "--epochs", help=_h(S, "epochs")),
    max_steps: int = typer.Option(-1, "--max-steps", help=_h(S, "max_steps")),
    batch_size: int = typer.Option(8, "--batch-size", help=_h(S, "batch_size")),
    grad_accum: int = typer.Option(1, "--grad-accum", help=_h(S, "grad_accum")),
    learning_rate: float = typer.Option(S.learning_rate, "--lr", help=_h(S, "learning_rate")),
    warmup_ratio: float = typer.Option(0.03, "--warmup-ratio", help=_h(S, "warmup_ratio")),
    lr_scheduler: str = typer.Option(S.lr_scheduler, "--lr-scheduler", help=_h(S, "lr_scheduler")),
    decision_weight: float = typer.Option(S.decision_weight, "--decision-weight", help=_h(S, "decision_weight")),
    activation_checkpointing: bool = typer.Option(S.activation_checkpointing, "--activation-checkpointing", help=_h(S, "activation_checkpointing")),
    both_orders: bool = typer.Option(True, "--both-orders/--one-order", help=_h(S, "both_orders")),
    save_steps: int = typer.Option(200, "--save-steps", help=_h(S, "save_steps")),
    logging_steps: int = typer.Option(10, "--logging-steps", help=_h(S, "logging_steps")),
    seed: int = typer.Option(0, "--seed", help=_h(S, "seed")),
    resume: bool = typer.Option(False, "--resume", help=_h(S, "resume")),
    overwrite: bool = typer.Option(False, "--overwrite", help=_h(S, "overwrite")),
):
    """Chain-of-thought SFT of the teacher on <think>protocol…</think><answer>X</answer>, both image orders.

    Example: c4u teacher sft --model models/small --data data/synth/pairs.jsonl --out teachers/sft --epochs 3
    """
    from creative4u_small.distill.sft_trainer import train_sft

    cfg = TeacherSFTConfig(
        model=model, data=str(data), out=str(out), lora_r=lora_r, lora_alpha=lora_alpha, epochs=epochs,
        max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, learning_rate=learning_rate,
        warmup_ratio=warmup_ratio, lr_scheduler=lr_scheduler, decision_weight=decision_weight,
        activation_checkpointing=activation_checkpointing, both_orders=both_orders, save_steps=save_steps,
        logging_steps=logging_steps, seed=seed, resume=resume, overwrite=overwrite,
    )
    say(f"teacher CoT-SFT of {model} on {data} into {out}")
    progress, update = _progress("teacher sft")
    with progress:
        summary = train_sft(cfg, progress=update)
    _emit_once(summary)


@app.command("grpo")
@friendly_errors
def grpo(
    model: str = typer.Option(..., "--model", help=_h(G, "model")),
    data: Path = typer.Option(..., "--data", help=_h(G, "data")),
    out: Path = typer.Option(..., "--out", help=_h(G, "out")),
    format_weight: float = typer.Option(1.0, "--format-weight", help=_h(G, "format_weight")),
    accuracy_weight: float = typer.Option(1.0, "--accuracy-weight", help=_h(G, "accuracy_weight")),
    consistency_weight: float = typer.Option(0.5, "--consistency-weight", help=_h(G, "consistency_weight")),
    num_generations: int = typer.Option(4, "--num-generations", help=_h(G, "num_generations")),
    max_completion_length: int = typer.Option(256, "--max-completion-length", help=_h(G, "max_completion_length")),
    temperature: float = typer.Option(1.0, "--temperature", help=_h(G, "temperature")),
    beta: float = typer.Option(0.0, "--beta", help=_h(G, "beta")),
    lora_r: int = typer.Option(0, "--lora-r", help=_h(G, "lora_r")),
    epochs: float = typer.Option(1.0, "--epochs", help=_h(G, "epochs")),
    max_steps: int = typer.Option(-1, "--max-steps", help=_h(G, "max_steps")),
    batch_size: int = typer.Option(8, "--batch-size", help=_h(G, "batch_size")),
    learning_rate: float = typer.Option(G.learning_rate, "--lr", help=_h(G, "learning_rate")),
    activation_checkpointing: bool = typer.Option(G.activation_checkpointing, "--activation-checkpointing", help=_h(G, "activation_checkpointing")),
    use_vllm: bool = typer.Option(False, "--use-vllm", help=_h(G, "use_vllm")),
    vllm_mode: str = typer.Option("colocate", "--vllm-mode", help=_h(G, "vllm_mode")),
    save_steps: int = typer.Option(100, "--save-steps", help=_h(G, "save_steps")),
    logging_steps: int = typer.Option(5, "--logging-steps", help=_h(G, "logging_steps")),
    seed: int = typer.Option(0, "--seed", help=_h(G, "seed")),
    resume: bool = typer.Option(False, "--resume", help=_h(G, "resume")),
    overwrite: bool = typer.Option(False, "--overwrite", help=_h(G, "overwrite")),
):
    """GRPO of the teacher with format, accuracy and consistency rewards (weights are options).

    Example: c4u teacher grpo --model teachers/sft --data data/synth/pairs.jsonl --out teachers/grpo --max-steps 50
    """
    from creative4u_small.distill.grpo_trainer import train_grpo

    cfg = TeacherGRPOConfig(
        model=model, data=str(data), out=str(out), format_weight=format_weight, accuracy_weight=accuracy_weight,
        consistency_weight=consistency_weight, num_generations=num_generations,
        max_completion_length=max_completion_length, temperature=temperature, beta=beta, lora_r=lora_r,
        epochs=epochs, max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
        activation_checkpointing=activation_checkpointing, use_vllm=use_vllm, vllm_mode=vllm_mode, save_steps=save_steps, logging_steps=logging_steps, seed=seed,
        resume=resume, overwrite=overwrite,
    )
    say(f"teacher GRPO of {model} on {data} into {out}")
    progress, update = _progress("teacher grpo")
    with progress:
        summary = train_grpo(cfg, progress=update)
    _emit_once(summary)


@friendly_errors
def label(
    teacher: str = typer.Option(..., "--teacher", help=_h(L, "teacher")),
    pairs: Path = typer.Option(..., "--pairs", help=_h(L, "pairs")),
    out: Path = typer.Option(..., "--out", help=_h(L, "out")),
    k: int = typer.Option(4, "--k", help=_h(L, "k")),
    temperature: float = typer.Option(0.8, "--temperature", help=_h(L, "temperature")),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help=_h(L, "max_new_tokens")),
    batch_size: int = typer.Option(8, "--batch-size", help=_h(L, "batch_size")),
    backend: str = typer.Option("transformers", "--backend", help=_h(L, "backend")),
    device: str = typer.Option("", "--device", help=_h(L, "device")),
    seed: int = typer.Option(0, "--seed", help=_h(L, "seed")),
    resume: bool = typer.Option(True, "--resume/--no-resume", help=_h(L, "resume")),
    overwrite: bool = typer.Option(False, "--overwrite", help=_h(L, "overwrite")),
):
    """Label pairs with a teacher: K rationales per order, teacher.p_a, teacher.verdict, the kept rationale.

    Example: c4u label --teacher teachers/grpo --pairs data/synth/pairs.jsonl --out data/labelled.jsonl --k 4
    """
    from creative4u_small.distill.label import label_pairs

    cfg = LabelConfig(
        teacher=teacher, pairs=str(pairs), out=str(out), k=k, temperature=temperature,
        max_new_tokens=max_new_tokens, batch_size=batch_size, backend=backend, device=device, seed=seed,
        resume=resume, overwrite=overwrite,
    )
    say(f"labelling {pairs} with {teacher} into {out}")
    progress, update = _progress("label")
    with progress:
        summary = label_pairs(cfg, progress=update, warn=say)
    emit_json(summary)


def register(app_: typer.Typer) -> None:
    """Add `c4u teacher …` and `c4u label` to the top-level app."""
    app_.add_typer(app, name="teacher")
    app_.command("label")(label)
