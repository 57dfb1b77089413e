"""What the teacher trainers (CoT-SFT, GRPO) share: their pairs, the model entering training, the run itself."""

from __future__ import annotations

import json
import time
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import CreativePair, iter_lines, load_pairs
from creative4u_small.distill.training_run import TrainingRun, merged
from creative4u_small.modeling.checkpoint import load_model


def require_rationales(pairs: list[CreativePair], path: Path) -> None:
    """Every pair needs a well-formed teacher rationale; the first bad one is named with its line."""
    lines = {}
    for lineno, text in iter_lines(path):
        try:
            lines.setdefault(str(json.loads(text).get("id")), lineno)
        except (json.JSONDecodeError, AttributeError):
            continue
    for pair in pairs:
        where = f"{path}:{lines.get(pair.id, '?')}: rationale"
        if not pair.rationale:
            raise ValueError(f"{where}: missing; teacher SFT needs a <think>protocol lines</think><answer>X</answer> rationale on every pair")
        parsed = protocol.parse_teacher(pair.rationale)
        if isinstance(parsed, protocol.ParseError):
            raise ValueError(f"{where}: not in the teacher format ({parsed.reason}); write <think>…</think><answer>A|B</answer>")
        errors = protocol.protocol_errors(parsed.answers)
        if errors:
            raise ValueError(f"{where}: protocol lines incomplete ({'; '.join(errors[:3])}); answer Q1–Q9 one line each")


def load_training_pairs(path: Path, need_rationale: bool = False, need_label: bool = False) -> list[CreativePair]:
    """Pairs with decodable images (a bad line stops here, before any model is loaded)."""
    pairs = load_pairs(Path(path), check_images="decode")
    if need_rationale:
        require_rationales(pairs, Path(path))
    unlabelled = [p.id for p in pairs if p.label is None] if need_label else []
    if unlabelled:
        raise ValueError(f"{path}: pair {unlabelled[0]!r} has no label ({len(unlabelled)} pairs lack one); the accuracy reward needs a label on every pair")
    return pairs


def load_teacher(path: str, notes: dict):
    """The model entering teacher training, answer tags added where needed; returns (model, processor).

    Answer tags added on entry keep their mean-initialised embeddings under LoRA: peft's trainable
    token rows wrap a tied output head in a way trl's fused loss cannot call.
    """

    model, processor, _ = load_model(path, train=True, add_tokens=True, notes=notes)
    return model, processor


def weights_fingerprint(model) -> float:
    """A cheap number that changes when any trainable weight changes (for summaries and tests)."""
    import torch

    with torch.no_grad():
        return float(sum(p.double().abs().sum() for p in model.parameters()))


def train_teacher(config, stage: str, build_trainer, summarise=None, progress=None, need_rationale=False, need_label=False) -> dict:
    """Train the teacher in ``config.model`` with ``build_trainer(config, pairs, model, processor)`` and publish it
    into ``config.out``; returns the summary, with ``summarise(trainer)``'s figures."""
    started = time.time()
    pairs = load_training_pairs(Path(config.data), need_rationale, need_label)
    run = TrainingRun(config, stage)
    run.check()
    resume_from = run.open()
    notes: dict = {}
    model, processor = load_teacher(config.model, notes)
    before = weights_fingerprint(model)
    trainer = run.attach(build_trainer(config, pairs, model, processor), progress)
    trainer.train(resume_from_checkpoint=resume_from)
    history = [h for h in trainer.state.log_history if "loss" in h]
    summary = {
        "global_step": trainer.state.global_step,
        "processes": trainer.accelerator.num_processes,
        "resumed_from": resume_from,
        "first_loss": history[0]["loss"] if history else None,
        "last_loss": history[-1]["loss"] if history else None,
        "seconds": round(time.time() - started, 2),
        "pairs": len(pairs),
        "lora": config.lora_r > 0,
        **notes,
        **(summarise(trainer) if summarise else {}),
        "weights_changed": None,
    }
    final = merged(trainer.accelerator.unwrap_model(trainer.model))
    if trainer.accelerator.is_main_process:
        run.publish(final, processor, summary)
    summary["weights_changed"] = weights_fingerprint(final) != before
    return summary
