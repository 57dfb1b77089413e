"""A student distilled from a teacher's labels agrees with it on held-out pairs (`distill_agreement.py`): data,
teacher, labels, student and evaluation, each stage skipped when its output already exists (a rerun resumes)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.artifacts import atomic_dir
from creative4u_small.contract.pairs import load_pairs, write_pairs
from creative4u_small.contract.settings import setting
from creative4u_small.data.synth import synthesize
from creative4u_small.distill.evaluate.eval_config import EvalConfig
from creative4u_small.distill.label.label_config import LabelConfig
from creative4u_small.distill.student.distill_config import DistillConfig
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
from creative4u_small.modeling.model_init import build_model, build_processor, init_model
from creative4u_small.modeling.presets import get_preset

TEACHER_PRESET, STUDENT_PRESET = "small", "mini"
FILES = {"data": "data", "train": "train.jsonl", "heldout": "heldout.jsonl", "teacher_init": "teacher_init", "teacher": "teacher",
         "train_labelled": "train_labelled.jsonl", "heldout_labelled": "heldout_labelled.jsonl", "student_init": "student_init",
         "student": "student"}  # what each stage writes under --work


@dataclass(frozen=True)
class DistillAgreementConfig:
    work: Path = setting(Path("/tmp/c4u_distill_agreement"), "Working folder; each stage's output there is reused when rerun.")
    train: int = setting(2000, "Synthetic training pairs.")
    heldout: int = setting(300, "Held-out synthetic pairs.")
    seed: int = setting(0, "Seed of the data, the initialisations and the training.")
    teacher: Path | None = setting(None, "Use this trained teacher instead of training one (stage 2).")
    teacher_epochs: float = setting(4.0, "Teacher CoT-SFT epochs.")
    teacher_batch: int = setting(16, "Teacher CoT-SFT rows per step.")
    teacher_lr: float = setting(5e-4, "Teacher CoT-SFT learning rate.")
    teacher_decision_weight: float = setting(10.0, "c4u teacher sft --decision-weight.")
    label_k: int = setting(1, "Rationales per pair and order (0: answer without reasoning).")
    label_temperature: float = setting(0.0, "Labelling temperature (0: the teacher's greedy reasoning).")
    label_max_new_tokens: int = setting(256, "Most tokens per labelling rationale.")
    student_epochs: float = setting(6.0, "Student distillation epochs.")
    student_batch: int = setting(32, "Student pairs per step.")
    student_lr: float = setting(3e-4, "Student learning rate.")
    rationale_weight: float = setting(0.0, "Student rationale loss weight.")
    label_weight: float = setting(0.0, "Share of ground truth in the student's target.")

    def folder(self, name: str) -> Path:
        """A file or folder of this run under ``work`` (the teacher: ``--teacher`` when given)."""
        return self.teacher if name == "teacher" and self.teacher else self.work / FILES[name]


def _stage(name, done: bool, fn, timings: dict):
    if done:
        print(f"[{name}] cached", flush=True)
        return
    print(f"[{name}] running", flush=True)
    t0 = time.perf_counter()
    fn()
    timings[name] = round(time.perf_counter() - t0, 1)
    print(f"[{name}] {timings[name]} s", flush=True)


def make_data(cfg: DistillAgreementConfig) -> None:
    """Synthetic pairs at the teacher preset's image size, split into training and held-out files."""
    synthesize(cfg.train + cfg.heldout, cfg.folder("data"), seed=cfg.seed, image_size=get_preset(TEACHER_PRESET).image_size)
    pairs = load_pairs(cfg.folder("data") / "pairs.jsonl")
    write_pairs(pairs[: cfg.train], cfg.folder("train"))
    write_pairs(pairs[cfg.train:], cfg.folder("heldout"))


def make_teacher(cfg: DistillAgreementConfig) -> None:
    """The teacher preset, CoT-SFT on the training pairs (what `c4u teacher sft` runs)."""
    from creative4u_small.distill.teacher.sft_trainer import train_sft

    if not (cfg.folder("teacher_init") / "config.json").is_file():
        init_model(TEACHER_PRESET, cfg.folder("teacher_init"), seed=cfg.seed, overwrite=True)
    print(json.dumps(train_sft(TeacherSFTConfig(
        model=str(cfg.folder("teacher_init")), data=str(cfg.folder("train")), out=str(cfg.folder("teacher")), epochs=cfg.teacher_epochs,
        batch_size=cfg.teacher_batch, learning_rate=cfg.teacher_lr, decision_weight=cfg.teacher_decision_weight,
        seed=cfg.seed, save_steps=100, resume=True,
    ))), flush=True)


def label(cfg: DistillAgreementConfig, src: str, dst: str):
    """The labelling stage of one file (what `c4u label` runs), as a function to run."""
    def run():
        from creative4u_small.distill.label.label import label_pairs

        print(json.dumps(label_pairs(LabelConfig(
            teacher=str(cfg.folder("teacher")), pairs=str(cfg.folder(src)), out=str(cfg.folder(dst)), k=cfg.label_k,
            temperature=cfg.label_temperature, max_new_tokens=cfg.label_max_new_tokens, batch_size=16, seed=cfg.seed,
        ))), flush=True)
    return run


def make_student(cfg: DistillAgreementConfig) -> None:
    """A student preset smaller than the teacher, distilled from the training labels (`c4u distill`)."""
    from creative4u_small.distill.student.distill_trainer import distill

    student_init = cfg.folder("student_init")
    if not (student_init / "config.json").is_file():
        preset = get_preset(STUDENT_PRESET)
        processor = build_processor(preset)
        model = build_model(preset, processor.tokenizer, seed=cfg.seed)
        with atomic_dir(student_init, overwrite=True) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            processor.save_pretrained(tmp)
    print(json.dumps(distill(DistillConfig(
        model=str(student_init), data=str(cfg.folder("train_labelled")), out=str(cfg.folder("student")), epochs=cfg.student_epochs,
        batch_size=cfg.student_batch, learning_rate=cfg.student_lr, rationale_weight=cfg.rationale_weight,
        max_rationale_tokens=128, label_weight=cfg.label_weight, seed=cfg.seed, save_steps=100, resume=True,
    ))), flush=True)


def _lines(path: Path) -> int:
    with open(path) as fh:
        return sum(1 for _ in fh)


def distill_agreement(cfg: DistillAgreementConfig) -> dict:
    """Every stage not yet done, then the student's evaluation; ``passed``: agreement >= 95%, accuracy within 3 points
    of the teacher's, order consistency >= 90%."""
    from creative4u_small.distill.evaluate.evaluate import evaluate_model

    cfg.work.mkdir(parents=True, exist_ok=True)
    timings: dict = {}
    train_l, held_l, teacher = cfg.folder("train_labelled"), cfg.folder("heldout_labelled"), cfg.folder("teacher")
    _stage("data", cfg.folder("train").is_file() and cfg.folder("heldout").is_file(), lambda: make_data(cfg), timings)
    _stage("teacher", (teacher / "config.json").is_file() and any(teacher.glob("*.safetensors")), lambda: make_teacher(cfg), timings)
    n_train, n_held = len(load_pairs(cfg.folder("train"))), len(load_pairs(cfg.folder("heldout")))
    _stage("label-train", train_l.is_file() and _lines(train_l) == n_train, label(cfg, "train", "train_labelled"), timings)
    _stage("label-heldout", held_l.is_file() and _lines(held_l) == n_held, label(cfg, "heldout", "heldout_labelled"), timings)
    _stage("student", (cfg.folder("student") / "report.json").is_file(), lambda: make_student(cfg), timings)
    t0 = time.perf_counter()
    report = evaluate_model(EvalConfig(model=str(cfg.folder("student")), pairs=str(held_l), batch_size=32))
    timings["eval"] = round(time.perf_counter() - t0, 1)
    teacher_acc = report["teacher"]["teacher_accuracy"]
    orders = [p.teacher.p_a_orders for p in load_pairs(held_l) if len(p.teacher.p_a_orders) == 2]
    result = {
        "benchmark": "distill_agreement", "train_pairs": n_train, "heldout_pairs": n_held,
        "student_parameters": json.loads((cfg.folder("student") / "report.json").read_text())["parameters"],
        "teacher_accuracy": teacher_acc, "student_accuracy": report["accuracy"], "agreement": report["teacher"]["agreement"],
        "order_consistency": report["order_consistency"],
        "teacher_order_consistency": sum((a >= 0.5) == (b >= 0.5) for a, b in orders) / len(orders) if orders else None,
        "student_ece": report["ece"], "seconds": timings,
    }
    result["passed"] = bool(result["agreement"] >= 0.95 and result["student_accuracy"] >= teacher_acc - 0.03 and result["order_consistency"] >= 0.90)
    return result
