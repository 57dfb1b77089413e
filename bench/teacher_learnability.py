"""Can a preset learn the synthetic task as a reasoning teacher (`teacher_learnability.py`)? CoT-SFT, held-out
accuracy after its own greedy reasoning (the labelling path), a few GRPO steps, and the accuracy again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.pairs import load_pairs
from creative4u_small.contract.settings import setting
from creative4u_small.data.synth import synthesize
from creative4u_small.distill.label.label import label_pairs
from creative4u_small.distill.label.label_config import LabelConfig
from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
from creative4u_small.modeling.model_init import init_model

IMAGE_SIZE = 64


@dataclass(frozen=True)
class TeacherLearnabilityConfig:
    work: Path = setting(help="Working folder (data, models, labelled held-out sets); reused when rerun.")
    train: int = setting(2000, "Synthetic training pairs.")
    heldout: int = setting(300, "Held-out synthetic pairs (another seed).")
    preset: str = setting("small", "Model preset to train.")
    epochs: float = setting(4.0, "SFT epochs.")
    batch_size: int = setting(16, "SFT rows per step.")
    lr: float = setting(5e-4, "SFT learning rate.")
    decision_weight: float = setting(10.0, "SFT loss weight of the comparison tokens (c4u teacher sft --decision-weight).")
    grpo_steps: int = setting(4, "GRPO steps after SFT.")
    grpo_lr: float = setting(1e-6, "GRPO learning rate.")
    eval_batch: int = setting(16, "Held-out pairs per labelling batch.")
    max_new_tokens: int = setting(256, "Reasoning tokens generated per held-out pair and order.")
    threads: int = setting(0, "torch threads (0 keeps torch's default; 1 is faster on a busy CPU).")
    seed: int = setting(0, "Seed of the data, the initialisation and the training.")


def accuracy(teacher: Path, pairs: Path, out: Path, batch_size: int, max_new_tokens: int) -> dict:
    """Held-out accuracy of ``teacher.verdict`` against the labels, plus order agreement."""
    t0 = time.perf_counter()
    label_pairs(LabelConfig(teacher=str(teacher), pairs=str(pairs), out=str(out), k=1, temperature=0.0,
                            max_new_tokens=max_new_tokens, batch_size=batch_size, resume=False, overwrite=True), warn=lambda m: None)
    labelled = load_pairs(out, check_images="none")
    right = sum(p.teacher.verdict == p.label for p in labelled)
    agree = sum(len({x >= 0.5 for x in p.teacher.p_a_orders}) == 1 for p in labelled)
    kept = sum(bool(p.teacher.rationales) for p in labelled)
    return {"accuracy": right / len(labelled), "orders_agree": agree / len(labelled),
            "rationale_kept": kept / len(labelled), "n": len(labelled), "seconds": round(time.perf_counter() - t0, 1)}


def prepare(cfg: TeacherLearnabilityConfig) -> tuple[Path, Path, Path]:
    """(training pairs, held-out pairs, initial model) under ``cfg.work``, each made when missing."""
    work = Path(cfg.work)
    work.mkdir(parents=True, exist_ok=True)
    train, heldout, model = work / "train" / "pairs.jsonl", work / "heldout" / "pairs.jsonl", work / "init"
    if not train.exists():
        synthesize(cfg.train, work / "train", seed=cfg.seed, image_size=IMAGE_SIZE)
    if not heldout.exists():
        synthesize(cfg.heldout, work / "heldout", seed=cfg.seed + 1000, image_size=IMAGE_SIZE)
    if not model.exists():
        init_model(cfg.preset, model, seed=cfg.seed)
    return train, heldout, model


def teacher_learnability(cfg: TeacherLearnabilityConfig) -> dict:
    """Data, SFT, held-out accuracy, GRPO, held-out accuracy: the figures of each step."""
    import torch

    from creative4u_small.distill.teacher.grpo_trainer import train_grpo
    from creative4u_small.distill.teacher.sft_trainer import train_sft

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    work = Path(cfg.work)
    t0 = time.perf_counter()
    train, heldout, model = prepare(cfg)
    data_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    sft = train_sft(TeacherSFTConfig(model=str(model), data=str(train), out=str(work / "sft"), epochs=cfg.epochs, batch_size=cfg.batch_size,
                                     learning_rate=cfg.lr, decision_weight=cfg.decision_weight, save_steps=250, logging_steps=25,
                                     seed=cfg.seed, resume=True))
    sft_s = time.perf_counter() - t1
    after_sft = accuracy(work / "sft", heldout, work / "heldout_sft.jsonl", cfg.eval_batch, cfg.max_new_tokens)
    t2 = time.perf_counter()
    grpo = train_grpo(TeacherGRPOConfig(model=str(work / "sft"), data=str(train), out=str(work / "grpo"), max_steps=cfg.grpo_steps,
                                        batch_size=8, num_generations=4, max_completion_length=cfg.max_new_tokens,
                                        learning_rate=cfg.grpo_lr, logging_steps=1, seed=cfg.seed, overwrite=True))
    grpo_s = time.perf_counter() - t2
    after_grpo = accuracy(work / "grpo", heldout, work / "heldout_grpo.jsonl", cfg.eval_batch, cfg.max_new_tokens)
    return {
        "benchmark": "teacher_learnability", "preset": cfg.preset, "train_pairs": cfg.train, "heldout_pairs": cfg.heldout,
        "epochs": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr, "decision_weight": cfg.decision_weight, "torch_threads": torch.get_num_threads(),
        "sft_steps": sft["global_step"], "sft_first_loss": sft["first_loss"], "sft_last_loss": sft["last_loss"],
        "sft_seconds": round(sft_s, 1), "accuracy_after_sft": after_sft["accuracy"], "eval_after_sft": after_sft,
        "grpo_steps": grpo["global_step"], "grpo_reward_first": grpo["reward_first"], "grpo_reward_last": grpo["reward_last"],
        "grpo_seconds": round(grpo_s, 1), "accuracy_after_grpo": after_grpo["accuracy"], "eval_after_grpo": after_grpo,
        "data_seconds": round(data_s, 1), "total_seconds": round(time.perf_counter() - t0, 1),
    }
