"""`c4u teacher sft`, `c4u teacher grpo` and `c4u label`: Reason-to-Select RFT and teacher labelling.

Each option's default and help come from the stage config's field (``cli.common.option``), written once there.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, option, progress_bar, say
from creative4u_small.distill.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.label_config import LabelConfig
from creative4u_small.distill.sft_config import TeacherSFTConfig

app = typer.Typer(help="Teacher Reason-to-Select RFT: CoT-SFT, then GRPO.", no_args_is_help=True)


def _emit_once(summary: dict) -> None:
    """Print the JSON summary from the main process only (``accelerate launch`` runs several)."""
    if int(os.environ.get("RANK", "0")) == 0:
        emit_json(summary)


S, G, L = TeacherSFTConfig, TeacherGRPOConfig, LabelConfig


@app.command("sft")
@friendly_errors
def sft(
    model: str = option(S, "model", "--model", required=True),
    data: Path = option(S, "data", "--data", required=True),
    out: Path = option(S, "out", "--out", required=True),
    lora_r: int = option(S, "lora_r", "--lora-r"),
    lora_alpha: int = option(S, "lora_alpha", "--lora-alpha"),
    epochs: float = option(S, "epochs", "--epochs"),
    max_steps: int = option(S, "max_steps", "--max-steps"),
    batch_size: int = option(S, "batch_size", "--batch-size"),
    grad_accum: int = option(S, "grad_accum", "--grad-accum"),
    learning_rate: float = option(S, "learning_rate", "--lr"),
    warmup_ratio: float = option(S, "warmup_ratio", "--warmup-ratio"),
    lr_scheduler: str = option(S, "lr_scheduler", "--lr-scheduler"),
    decision_weight: float = option(S, "decision_weight", "--decision-weight"),
    activation_checkpointing: bool = option(S, "activation_checkpointing", "--activation-checkpointing"),
    both_orders: bool = option(S, "both_orders", "--both-orders/--one-order"),
    save_steps: int = option(S, "save_steps", "--save-steps"),
    logging_steps: int = option(S, "logging_steps", "--logging-steps"),
    seed: int = option(S, "seed", "--seed"),
    resume: bool = option(S, "resume", "--resume"),
    overwrite: bool = option(S, "overwrite", "--overwrite"),
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
    progress, update = progress_bar("teacher sft")
    with progress:
        summary = train_sft(cfg, progress=update)
    _emit_once(summary)


@app.command("grpo")
@friendly_errors
def grpo(
    model: str = option(G, "model", "--model", required=True),
    data: Path = option(G, "data", "--data", required=True),
    out: Path = option(G, "out", "--out", required=True),
    format_weight: float = option(G, "format_weight", "--format-weight"),
    accuracy_weight: float = option(G, "accuracy_weight", "--accuracy-weight"),
    consistency_weight: float = option(G, "consistency_weight", "--consistency-weight"),
    num_generations: int = option(G, "num_generations", "--num-generations"),
    max_completion_length: int = option(G, "max_completion_length", "--max-completion-length"),
    temperature: float = option(G, "temperature", "--temperature"),
    beta: float = option(G, "beta", "--beta"),
    lora_r: int = option(G, "lora_r", "--lora-r"),
    epochs: float = option(G, "epochs", "--epochs"),
    max_steps: int = option(G, "max_steps", "--max-steps"),
    batch_size: int = option(G, "batch_size", "--batch-size"),
    learning_rate: float = option(G, "learning_rate", "--lr"),
    activation_checkpointing: bool = option(G, "activation_checkpointing", "--activation-checkpointing"),
    use_vllm: bool = option(G, "use_vllm", "--use-vllm"),
    vllm_mode: str = option(G, "vllm_mode", "--vllm-mode"),
    save_steps: int = option(G, "save_steps", "--save-steps"),
    logging_steps: int = option(G, "logging_steps", "--logging-steps"),
    seed: int = option(G, "seed", "--seed"),
    resume: bool = option(G, "resume", "--resume"),
    overwrite: bool = option(G, "overwrite", "--overwrite"),
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
    progress, update = progress_bar("teacher grpo")
    with progress:
        summary = train_grpo(cfg, progress=update)
    _emit_once(summary)


@friendly_errors
def label(
    teacher: str = option(L, "teacher", "--teacher", required=True),
    pairs: Path = option(L, "pairs", "--pairs", required=True),
    out: Path = option(L, "out", "--out", required=True),
    k: int = option(L, "k", "--k"),
    temperature: float = option(L, "temperature", "--temperature"),
    max_new_tokens: int = option(L, "max_new_tokens", "--max-new-tokens"),
    batch_size: int = option(L, "batch_size", "--batch-size"),
    backend: str = option(L, "backend", "--backend"),
    device: str = option(L, "device", "--device"),
    seed: int = option(L, "seed", "--seed"),
    resume: bool = option(L, "resume", "--resume/--no-resume"),
    overwrite: bool = option(L, "overwrite", "--overwrite"),
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
    progress, update = progress_bar("label")
    with progress:
        summary = label_pairs(cfg, progress=update, warn=say)
    emit_json(summary)


def register(app_: typer.Typer) -> None:
    """Add `c4u teacher …` and `c4u label` to the top-level app."""
    app_.add_typer(app, name="teacher")
    app_.command("label")(label)
