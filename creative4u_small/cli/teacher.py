"""`c4u teacher sft`, `c4u teacher grpo` and `c4u label`: Reason-to-Select RFT and teacher labelling.

Each option's type, default and help come from the stage config's field (``cli.config_options``), written once there.
"""

from __future__ import annotations

import os

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, progress_bar, say
from creative4u_small.cli.config_options import from_config
from creative4u_small.distill.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.label_config import LabelConfig
from creative4u_small.distill.sft_config import TeacherSFTConfig

app = typer.Typer(help="Teacher Reason-to-Select RFT: CoT-SFT, then GRPO.", no_args_is_help=True)


def _emit_once(summary: dict) -> None:
    """Print the JSON summary from the main process only (``accelerate launch`` runs several)."""
    if int(os.environ.get("RANK", "0")) == 0:
        emit_json(summary)


S, G, L = TeacherSFTConfig, TeacherGRPOConfig, LabelConfig
SFT_FLAGS = {"learning_rate": "--lr", "both_orders": "--both-orders/--one-order"}


@app.command("sft")
@friendly_errors
@from_config(S, ("model", "data", "out", "lora_r", "lora_alpha", "epochs", "max_steps", "batch_size", "grad_accum",
                 "learning_rate", "warmup_ratio", "lr_scheduler", "decision_weight", "activation_checkpointing",
                 "both_orders", "save_steps", "logging_steps", "seed", "resume", "overwrite"), flags=SFT_FLAGS)
def sft(cfg: TeacherSFTConfig):
    """Chain-of-thought SFT of the teacher on <think>protocol…</think><answer>X</answer>, both image orders.

    Example: c4u teacher sft --model models/small --data data/synth/pairs.jsonl --out teachers/sft --epochs 3
    """
    from creative4u_small.distill.sft_trainer import train_sft

    say(f"teacher CoT-SFT of {cfg.model} on {cfg.data} into {cfg.out}")
    progress, update = progress_bar("teacher sft")
    with progress:
        summary = train_sft(cfg, progress=update)
    _emit_once(summary)


@app.command("grpo")
@friendly_errors
@from_config(G, ("model", "data", "out", "format_weight", "accuracy_weight", "consistency_weight", "text_consistency_weight",
                 "num_generations", "max_completion_length", "temperature", "beta", "lora_r", "epochs", "max_steps", "batch_size",
                 "learning_rate", "activation_checkpointing", "use_vllm", "vllm_mode", "save_steps", "logging_steps",
                 "seed", "resume", "overwrite"), flags={"learning_rate": "--lr"})
def grpo(cfg: TeacherGRPOConfig):
    """GRPO of the teacher with format, accuracy and consistency rewards (weights are options).

    Example: c4u teacher grpo --model teachers/sft --data data/synth/pairs.jsonl --out teachers/grpo --max-steps 50
    """
    from creative4u_small.distill.grpo_trainer import train_grpo

    say(f"teacher GRPO of {cfg.model} on {cfg.data} into {cfg.out}")
    progress, update = progress_bar("teacher grpo")
    with progress:
        summary = train_grpo(cfg, progress=update)
    _emit_once(summary)


@friendly_errors
@from_config(L, ("teacher", "pairs", "out", "k", "temperature", "max_new_tokens", "batch_size", "backend", "device", "seed",
                 "resume", "overwrite"), flags={"resume": "--resume/--no-resume"})
def label(cfg: LabelConfig):
    """Label pairs with a teacher: K rationales per order, teacher.p_a, teacher.verdict, the kept rationale.

    Example: c4u label --teacher teachers/grpo --pairs data/synth/pairs.jsonl --out data/labelled.jsonl --k 4
    """
    from creative4u_small.distill.label import label_pairs

    say(f"labelling {cfg.pairs} with {cfg.teacher} into {cfg.out}")
    progress, update = progress_bar("label")
    with progress:
        summary = label_pairs(cfg, progress=update, warn=say)
    emit_json(summary)


def register(app_: typer.Typer) -> None:
    """Add `c4u teacher …` and `c4u label` to the top-level app."""
    app_.add_typer(app, name="teacher")
    app_.command("label")(label)
