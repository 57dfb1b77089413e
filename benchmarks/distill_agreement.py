"""Slow check: a student distilled from the `small` teacher's labels agrees with it on held-out pairs.

Stages (each skipped when its output already exists under ``--work``, so a rerun resumes):
  1. data     synthetic pairs (``--train`` + ``--heldout``) at the preset's image size;
  2. teacher  `small` preset, CoT-SFT on the training pairs (what `c4u teacher sft` runs);
  3. label    the teacher labels the training and held-out pairs (what `c4u label` runs);
  4. student  a smaller Idefics3 config distilled from the training labels (`c4u distill`);
  5. eval     the student on the labelled held-out pairs (`c4u eval`).
Pass: agreement with the teacher >= 95%, student accuracy within 3 points of the teacher's,
order consistency >= 90%. Prints one JSON line last.

    python benchmarks/distill_agreement.py --work /tmp/c4u_agreement            # the full sizes
    python benchmarks/distill_agreement.py --train 400 --heldout 100 --teacher-epochs 1   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def _stage(name, done: bool, fn, timings: dict):
    if done:
        print(f"[{name}] cached", flush=True)
        return
    print(f"[{name}] running", flush=True)
    t0 = time.perf_counter()
    fn()
    timings[name] = round(time.perf_counter() - t0, 1)
    print(f"[{name}] {timings[name]} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/c4u_distill_agreement"))
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--heldout", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--teacher", type=Path, default=None, help="use this trained teacher instead of stage 2")
    ap.add_argument("--teacher-epochs", type=float, default=4.0)
    ap.add_argument("--teacher-batch", type=int, default=16)
    ap.add_argument("--teacher-lr", type=float, default=5e-4)
    ap.add_argument("--teacher-decision-weight", type=float, default=10.0, help="c4u teacher sft --decision-weight")
    ap.add_argument("--label-k", type=int, default=1, help="rationales per pair and order (0: answer without reasoning)")
    ap.add_argument("--label-temperature", type=float, default=0.0, help="0: the teacher's greedy reasoning")
    ap.add_argument("--label-max-new-tokens", type=int, default=256)
    ap.add_argument("--student-epochs", type=float, default=6.0)
    ap.add_argument("--student-batch", type=int, default=32)
    ap.add_argument("--student-lr", type=float, default=3e-4)
    ap.add_argument("--rationale-weight", type=float, default=0.0)
    ap.add_argument("--label-weight", type=float, default=0.0, help="share of ground truth in the student's target")
    args = ap.parse_args()

    from creative4u_small.contract.pairs import load_pairs, write_pairs
    from creative4u_small.data.synth import synthesize
    from creative4u_small.distill.evaluate.eval_config import EvalConfig
    from creative4u_small.distill.evaluate.evaluate import evaluate_model
    from creative4u_small.distill.label.label import label_pairs
    from creative4u_small.distill.label.label_config import LabelConfig
    from creative4u_small.distill.student.distill_config import DistillConfig
    from creative4u_small.distill.student.distill_trainer import distill
    from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
    from creative4u_small.distill.teacher.sft_trainer import train_sft
    from creative4u_small.modeling.model_init import build_model, build_processor, init_model
    from creative4u_small.modeling.presets import get_preset

    w = args.work
    w.mkdir(parents=True, exist_ok=True)
    timings: dict = {}
    data, train_f, held_f = w / "data", w / "train.jsonl", w / "heldout.jsonl"
    teacher_init, teacher = w / "teacher_init", args.teacher or w / "teacher"
    train_l, held_l = w / "train_labelled.jsonl", w / "heldout_labelled.jsonl"
    student_init, student = w / "student_init", w / "student"
    image_size = get_preset("small").image_size

    def make_data():
        synthesize(args.train + args.heldout, data, seed=args.seed, image_size=image_size)
        pairs = load_pairs(data / "pairs.jsonl")
        write_pairs(pairs[: args.train], train_f)
        write_pairs(pairs[args.train:], held_f)

    def make_teacher():
        if not (teacher_init / "config.json").is_file():
            init_model("small", teacher_init, seed=args.seed, overwrite=True)
        print(json.dumps(train_sft(TeacherSFTConfig(
            model=str(teacher_init), data=str(train_f), out=str(teacher), epochs=args.teacher_epochs,
            batch_size=args.teacher_batch, learning_rate=args.teacher_lr, decision_weight=args.teacher_decision_weight,
            seed=args.seed, save_steps=100, resume=True,
        ))), flush=True)

    def label(src, dst):
        def run():
            print(json.dumps(label_pairs(LabelConfig(
                teacher=str(teacher), pairs=str(src), out=str(dst), k=args.label_k, temperature=args.label_temperature,
                max_new_tokens=args.label_max_new_tokens, batch_size=16, seed=args.seed,
            ))), flush=True)
        return run

    def make_student():
        if not (student_init / "config.json").is_file():
            from creative4u_small.contract.artifacts import atomic_dir

            preset = get_preset("mini")
            processor = build_processor(preset)
            model = build_model(preset, processor.tokenizer, seed=args.seed)
            with atomic_dir(student_init, overwrite=True) as tmp:
                model.save_pretrained(tmp, safe_serialization=True)
                processor.save_pretrained(tmp)
        print(json.dumps(distill(DistillConfig(
            model=str(student_init), data=str(train_l), out=str(student), epochs=args.student_epochs,
            batch_size=args.student_batch, learning_rate=args.student_lr, rationale_weight=args.rationale_weight,
            max_rationale_tokens=128, label_weight=args.label_weight, seed=args.seed, save_steps=100, resume=True,
        ))), flush=True)

    _stage("data", train_f.is_file() and held_f.is_file(), make_data, timings)
    _stage("teacher", (teacher / "config.json").is_file() and any(teacher.glob("*.safetensors")), make_teacher, timings)
    n_train, n_held = len(load_pairs(train_f)), len(load_pairs(held_f))
    _stage("label-train", train_l.is_file() and sum(1 for _ in open(train_l)) == n_train, label(train_f, train_l), timings)
    _stage("label-heldout", held_l.is_file() and sum(1 for _ in open(held_l)) == n_held, label(held_f, held_l), timings)
    _stage("student", (student / "report.json").is_file(), make_student, timings)
    t0 = time.perf_counter()
    report = evaluate_model(EvalConfig(model=str(student), pairs=str(held_l), batch_size=32))
    timings["eval"] = round(time.perf_counter() - t0, 1)
    teacher_acc = report["teacher"]["teacher_accuracy"]
    orders = [p.teacher.p_a_orders for p in load_pairs(held_l) if len(p.teacher.p_a_orders) == 2]
    result = {
        "benchmark": "distill_agreement",
        "train_pairs": n_train,
        "heldout_pairs": n_held,
        "student_parameters": json.loads((student / "report.json").read_text())["parameters"],
        "teacher_accuracy": teacher_acc,
        "student_accuracy": report["accuracy"],
        "agreement": report["teacher"]["agreement"],
        "order_consistency": report["order_consistency"],
        "teacher_order_consistency": sum((a >= 0.5) == (b >= 0.5) for a, b in orders) / len(orders) if orders else None,
        "student_ece": report["ece"],
        "seconds": timings,
    }
    result["passed"] = bool(
        result["agreement"] >= 0.95
        and result["student_accuracy"] >= teacher_acc - 0.03
        and result["order_consistency"] >= 0.90
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
