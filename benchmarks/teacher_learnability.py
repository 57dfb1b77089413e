"""Can the `small` preset learn the synthetic task as a reasoning teacher?

Renders a synthetic training set and a held-out set (another seed), trains the `small` preset
with `c4u teacher sft` (the same `train_sft`), measures held-out accuracy of the teacher's
verdict after its own greedy reasoning (`label_pairs`, k=1, temperature 0: the labelling path),
runs a few GRPO steps and measures again. Prints one JSON line last.

Example: python benchmarks/teacher_learnability.py --work /tmp/learn --train 2000 --heldout 300
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def accuracy(teacher: Path, pairs: Path, out: Path, batch_size: int, max_new_tokens: int) -> dict:
    """Held-out accuracy of ``teacher.verdict`` against the labels, plus order agreement."""
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.distill.label.label import label_pairs
    from creative4u_small.distill.label.label_config import LabelConfig

    t0 = time.perf_counter()
    label_pairs(LabelConfig(teacher=str(teacher), pairs=str(pairs), out=str(out), k=1, temperature=0.0,
                            max_new_tokens=max_new_tokens, batch_size=batch_size, resume=False, overwrite=True), warn=lambda m: None)
    labelled = load_pairs(out, check_images="none")
    right = sum(p.teacher.verdict == p.label for p in labelled)
    agree = sum(len({x >= 0.5 for x in p.teacher.p_a_orders}) == 1 for p in labelled)
    kept = sum(bool(p.teacher.rationales) for p in labelled)
    return {"accuracy": right / len(labelled), "orders_agree": agree / len(labelled),
            "rationale_kept": kept / len(labelled), "n": len(labelled), "seconds": round(time.perf_counter() - t0, 1)}


def run(work: Path, n_train: int = 2000, n_heldout: int = 300, preset: str = "small", epochs: float = 4.0,
        batch_size: int = 16, lr: float = 5e-4, decision_weight: float = 10.0, grpo_steps: int = 4, grpo_lr: float = 1e-6,
        eval_batch: int = 16, max_new_tokens: int = 256, threads: int = 0, seed: int = 0) -> dict:
    import torch

    from creative4u_small.data.synth import synthesize
    from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
    from creative4u_small.distill.teacher.grpo_trainer import train_grpo
    from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
    from creative4u_small.distill.teacher.sft_trainer import train_sft
    from creative4u_small.modeling.model_init import init_model

    if threads:
        torch.set_num_threads(threads)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train = work / "train" / "pairs.jsonl"
    heldout = work / "heldout" / "pairs.jsonl"
    if not train.exists():
        synthesize(n_train, work / "train", seed=seed, image_size=64)
    if not heldout.exists():
        synthesize(n_heldout, work / "heldout", seed=seed + 1000, image_size=64)
    model = work / "init"
    if not model.exists():
        init_model(preset, model, seed=seed)
    data_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    sft_dir = work / "sft"
    sft = train_sft(TeacherSFTConfig(model=str(model), data=str(train), out=str(sft_dir), epochs=epochs,
                                     batch_size=batch_size, learning_rate=lr, decision_weight=decision_weight,
                                     save_steps=250, logging_steps=25,
                                     seed=seed, resume=True))
    sft_s = time.perf_counter() - t1
    after_sft = accuracy(sft_dir, heldout, work / "heldout_sft.jsonl", eval_batch, max_new_tokens)

    t2 = time.perf_counter()
    grpo_dir = work / "grpo"
    grpo = train_grpo(TeacherGRPOConfig(model=str(sft_dir), data=str(train), out=str(grpo_dir), max_steps=grpo_steps,
                                        batch_size=8, num_generations=4, max_completion_length=max_new_tokens,
                                        learning_rate=grpo_lr, logging_steps=1, seed=seed, overwrite=True))
    grpo_s = time.perf_counter() - t2
    after_grpo = accuracy(grpo_dir, heldout, work / "heldout_grpo.jsonl", eval_batch, max_new_tokens)
    return {
        "benchmark": "teacher_learnability", "preset": preset, "train_pairs": n_train, "heldout_pairs": n_heldout,
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "decision_weight": decision_weight, "torch_threads": torch.get_num_threads(),
        "sft_steps": sft["global_step"], "sft_first_loss": sft["first_loss"], "sft_last_loss": sft["last_loss"],
        "sft_seconds": round(sft_s, 1), "accuracy_after_sft": after_sft["accuracy"], "eval_after_sft": after_sft,
        "grpo_steps": grpo["global_step"], "grpo_reward_first": grpo["reward_first"], "grpo_reward_last": grpo["reward_last"],
        "grpo_seconds": round(grpo_s, 1), "accuracy_after_grpo": after_grpo["accuracy"], "eval_after_grpo": after_grpo,
        "data_seconds": round(data_s, 1), "total_seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="Working folder (data, models, labelled held-out sets); reused when rerun.")
    ap.add_argument("--train", type=int, default=2000, help="Synthetic training pairs.")
    ap.add_argument("--heldout", type=int, default=300, help="Held-out synthetic pairs (another seed).")
    ap.add_argument("--preset", default="small", help="Model preset to train.")
    ap.add_argument("--epochs", type=float, default=4.0, help="SFT epochs.")
    ap.add_argument("--batch-size", type=int, default=16, help="SFT rows per step.")
    ap.add_argument("--lr", type=float, default=5e-4, help="SFT learning rate.")
    ap.add_argument("--decision-weight", type=float, default=10.0, help="SFT loss weight of the comparison tokens (c4u teacher sft --decision-weight).")
    ap.add_argument("--grpo-steps", type=int, default=4, help="GRPO steps after SFT.")
    ap.add_argument("--grpo-lr", type=float, default=1e-6, help="GRPO learning rate.")
    ap.add_argument("--max-new-tokens", type=int, default=256, help="Reasoning tokens generated per held-out pair and order.")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 keeps torch's default; 1 is faster on a busy CPU).")
    a = ap.parse_args(argv)
    result = run(a.work, a.train, a.heldout, a.preset, a.epochs, a.batch_size, a.lr, a.decision_weight, a.grpo_steps, a.grpo_lr,
                 max_new_tokens=a.max_new_tokens, threads=a.threads)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
