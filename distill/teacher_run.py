"""What the teacher trainers (CoT-SFT, GRPO) share: the run folder, LoRA, progress and the final save.

A run folder holds ``run_config.json`` (written before training starts), ``checkpoints/``
(trl/transformers checkpoints, for ``--resume``) and, when training finishes, the model and
processor in Hugging Face format at its top level plus ``c4u_provenance.json``. The final save
goes through a temporary sibling folder, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, fields
from pathlib import Path

from creative4u_small.artifacts import check_fresh_output, write_json_atomic, write_provenance

RUN_CONFIG_FILE = "run_config.json"
CHECKPOINT_DIR = "checkpoints"
# Fields that may change between a run and its resumption without making it a different run.
RESUMABLE_FIELDS = ("resume", "overwrite", "max_steps", "epochs", "save_steps", "logging_steps")


def _comparable(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in RESUMABLE_FIELDS}


def prepare_run_folder(out: Path, config, stage: str) -> str | None:
    """Create or reopen ``out``; returns the checkpoint to resume from (None for a fresh run).

    A folder that holds anything else is refused unless ``config.overwrite`` (which empties it).
    ``config.resume`` needs a folder of the same stage and settings. Under ``accelerate launch``
    every process checks (so a refusal stops them all) before the main process writes.
    """
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # as the training arguments will set it up
    out = Path(out)
    resolved = {"stage": stage, **asdict(config)}
    saved_path = out / RUN_CONFIG_FILE
    reopen = bool(config.resume and saved_path.is_file())
    if reopen:
        saved = json.loads(saved_path.read_text())
        if _comparable(saved) != _comparable(resolved):
            diff = sorted(k for k in set(saved) | set(resolved) if k not in RESUMABLE_FIELDS and saved.get(k) != resolved.get(k))
            raise ValueError(f"{out} holds a different run (settings differ: {', '.join(diff)}); resume with the same settings or pass --overwrite")
    elif not config.overwrite:
        check_fresh_output(out, overwrite=False, kind=f"{stage} output")
    checkpoint = last_checkpoint(out) if reopen else None
    state.wait_for_everyone()
    if state.is_main_process:
        if not reopen and config.overwrite and out.exists():
            shutil.rmtree(out)
        (out / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        write_json_atomic(saved_path, resolved)
    state.wait_for_everyone()
    return checkpoint


def last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(out) / CHECKPOINT_DIR
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def lora_config(r: int, alpha: int | None, dropout: float):
    """A peft LoRA over every linear layer of the language and vision towers (None when ``r`` is 0).

    Answer tags added on entry keep their mean-initialised embeddings under LoRA: peft's trainable
    token rows wrap a tied output head in a way trl's fused loss cannot call.
    """
    if r <= 0:
        return None
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha or 2 * r, lora_dropout=dropout, target_modules="all-linear", task_type="CAUSAL_LM")


def load_teacher(path: str, notes: dict):
    """The model entering teacher training, answer tags added where needed; returns (model, processor)."""
    from creative4u_small.checkpoint import load_model

    model, processor, _ = load_model(path, train=True, add_tokens=True, notes=notes)
    return model, processor


LOG_FILE = "train_log.jsonl"


def report_to(trainer, progress, out: Path):
    """Steps go to ``progress(step, max_steps)`` (the CLI's bar with its ETA) and the trainer's log dicts to
    ``out/train_log.jsonl``, instead of trl printing raw ``{'loss': ...}`` lines; returns the trainer."""
    from transformers import PrinterCallback, TrainerCallback

    log_file = Path(out) / LOG_FILE

    class _Report(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if progress is not None and state.is_world_process_zero:
                progress(state.global_step, state.max_steps)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                with open(log_file, "a") as fh:
                    fh.write(json.dumps({"step": state.global_step, **logs}) + "\n")

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(_Report())
    return trainer


def save_final(trainer, processor, out: Path, stage: str, config, results: dict):
    """Merge LoRA adapters if any and write model + processor + provenance into ``out``; returns the model."""
    out = Path(out)
    model = trainer.model
    model = trainer.accelerator.unwrap_model(model)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if not trainer.accelerator.is_main_process:
        return model
    tmp = out / ".final-tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save_pretrained(tmp, safe_serialization=True)
    processor.save_pretrained(tmp)
    for item in tmp.iterdir():
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        item.replace(target)
    tmp.rmdir()
    write_provenance(out, stage, {f.name: getattr(config, f.name) for f in fields(config)}, results)
    return model


def weights_fingerprint(model) -> float:
    """A cheap number that changes when any trainable weight changes (for summaries and tests)."""
    import torch

    with torch.no_grad():
        return float(sum(p.double().abs().sum() for p in model.parameters()))


def train_summary(trainer, resumed_from: str | None, started_at: float) -> dict:
    import time

    history = [h for h in trainer.state.log_history if "loss" in h]
    return {
        "global_step": trainer.state.global_step,
        "processes": trainer.accelerator.num_processes,
        "resumed_from": resumed_from,
        "first_loss": history[0]["loss"] if history else None,
        "last_loss": history[-1]["loss"] if history else None,
        "seconds": round(time.time() - started_at, 2),
    }
