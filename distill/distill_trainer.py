"""`c4u distill`: train a small VLM student on the teacher's soft verdicts and rationales, answer-first.

Built on ``transformers.Trainer`` so that checkpoints, ``--resume`` and ``accelerate launch`` work
as they do for any Trainer run. The trained module wraps the student so that the whole loss
(image encoding once per distinct image, the verdict at the answer position, the rationale
tokens) runs inside ``forward``, which DDP needs for gradient synchronisation.

Layout: the run works in ``<out>.partial/`` (checkpoints, log) and the finished student lands
in ``<out>`` in one rename, so ``<out>`` is either absent or complete.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from creative4u_small.distill.distill_config import DistillConfig
from creative4u_small.distill.losses import decision_weights, rationale_decision_ids, soft_verdict_loss, token_loss
from creative4u_small.distill.schedule import warmup_steps

LOG_FILE = "log.jsonl"
REPORT_FILE = "report.json"
CONFIG_FILE = "distill_config.json"


def partial_dir(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _verdict_module_class():
    import torch
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    from creative4u_small.scorer import ORDERS, JudgeBatch, image_features, verdict_logits

    class VerdictDistillModule(torch.nn.Module):
        """The student plus its distillation loss; ``forward`` returns loss and its parts."""

        def __init__(self, student, verdict_ids: tuple[int, int], rationale_weight: float,
                     decision_ids: frozenset[int] = frozenset(), decision_weight: float = 1.0):
            super().__init__()
            self.student = student
            self.verdict_ids = tuple(verdict_ids)
            self.rationale_weight = float(rationale_weight)
            self.decision_ids, self.decision_weight = decision_ids, float(decision_weight)

        def base(self):
            return self.student.get_base_model() if hasattr(self.student, "get_base_model") else self.student

        def forward(self, input_ids, attention_mask, position_ids, pixel_values, image_index, target_a,
                    pixel_attention_mask=None, tail_labels=None):
            model = self.base()
            features = image_features(model, pixel_values, pixel_attention_mask)
            if tail_labels is None:
                batch = JudgeBatch(input_ids, attention_mask, position_ids, pixel_values, pixel_attention_mask, image_index, ORDERS)
                logits = verdict_logits(model, batch, self.verdict_ids, features)
                tok = logits.new_zeros(())
            else:
                answer_col = input_ids.shape[1] - tail_labels.shape[1] - 1
                rows = features[image_index].reshape(-1, features.shape[-1])
                hidden = model.model(
                    input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                    mm_encoder_outputs={"image": BaseModelOutputWithPooling(pooler_output=rows)}, use_cache=False,
                ).last_hidden_state
                head = model.get_output_embeddings()
                logits = hidden[:, answer_col] @ head.weight[list(self.verdict_ids)].T.to(hidden.dtype)
                weights = decision_weights(tail_labels, self.decision_ids, self.decision_weight) if self.decision_ids else None
                tok = token_loss(head(hidden[:, answer_col + 1:]), tail_labels, weights)
            verdict = soft_verdict_loss(logits, target_a)
            loss = verdict + self.rationale_weight * tok if tail_labels is not None else verdict
            return {"loss": loss, "verdict_loss": verdict.detach(), "token_loss": tok.detach(), "verdict_logits": logits.detach()}

    return VerdictDistillModule


def _trainer_class():
    from transformers import Trainer

    class DistillTrainer(Trainer):
        """Trainer whose checkpoints hold the student itself (safetensors), not the wrapper."""

        loss_is_scaled_for_ga = False

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._parts: dict[str, list[float]] = {"verdict_loss": [], "token_loss": []}

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = model(**inputs)
            for k in self._parts:
                self._parts[k].append(float(out[k]))
            return (out["loss"], out) if return_outputs else out["loss"]

        def log(self, logs, start_time=None):
            for k, v in self._parts.items():
                if v and "loss" in logs:
                    logs[k] = sum(v) / len(v)
                    v.clear()
            super().log(logs, start_time)

        def _student(self):
            return self.accelerator.unwrap_model(self.model).student

        def _save(self, output_dir=None, state_dict=None):
            output_dir = output_dir or self.args.output_dir
            if not self.args.should_save:
                return
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            self._student().save_pretrained(output_dir, safe_serialization=True)
            if self.processing_class is not None:
                self.processing_class.save_pretrained(output_dir)

        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            from safetensors.torch import load_file

            student = self._student()
            folder = Path(resume_from_checkpoint)
            if hasattr(student, "peft_config"):
                from peft import set_peft_model_state_dict

                set_peft_model_state_dict(student, load_file(folder / "adapter_model.safetensors"))
                return
            files = sorted(folder.glob("*.safetensors"))
            if not files:
                raise ValueError(f"{folder}: no safetensors weights to resume from; delete the checkpoint or start without --resume")
            state = {}
            for f in files:
                state.update(load_file(f))
            missing, unexpected = student.load_state_dict(state, strict=False)
            tied = set(getattr(student, "all_tied_weights_keys", {}) or {}) | {"lm_head.weight"}
            if unexpected or set(missing) - tied:
                raise ValueError(f"{folder}: checkpoint does not match the student (missing {missing[:3]}, unexpected {unexpected[:3]})")

    return DistillTrainer


def _callbacks(log_path: Path, progress):
    from transformers import TrainerCallback

    class RunLog(TrainerCallback):
        """Appends each logged step to log.jsonl and drives the progress bar."""

        def on_log(self, args, state, control, logs=None, **kw):
            if state.is_world_process_zero and logs and "loss" in logs:
                with open(log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")

        def on_step_end(self, args, state, control, **kw):
            if progress is not None and state.is_world_process_zero:
                progress(state.global_step, state.max_steps)

    return [RunLog()]


def _prepare_output(cfg: DistillConfig, main: bool = True) -> Path:
    """Check ``out`` and its working folder; returns the checkpoint folder to resume from, or None.

    Only the main process (``main``) removes anything; the others just check.
    """
    from creative4u_small.artifacts import check_fresh_output

    out, work = Path(cfg.out), partial_dir(cfg.out)
    check_fresh_output(out, cfg.overwrite, "student")
    if work.exists() and not (cfg.resume or cfg.overwrite):
        raise FileExistsError(f"{work} holds an interrupted run; pass --resume to continue it or --overwrite to start over")
    if work.exists() and cfg.overwrite and main:
        shutil.rmtree(work)
    if cfg.resume:
        ckpts = sorted((work / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
        if ckpts:
            saved = json.loads((work / CONFIG_FILE).read_text()) if (work / CONFIG_FILE).is_file() else None
            if saved is not None:
                _check_same_run(saved, cfg)
            return ckpts[-1]
    return None


_RUN_KEYS = ("student", "labels", "batch_size", "grad_accum", "learning_rate", "rationale_weight", "label_weight", "lora", "seed")


def _check_same_run(saved: dict, cfg: DistillConfig) -> None:
    diff = [k for k in _RUN_KEYS if saved.get(k) != cfg.to_dict()[k]]
    if diff:
        raise ValueError(f"--resume with different settings than the interrupted run ({', '.join(diff)}); use the same ones or --overwrite")


def load_student(cfg: DistillConfig, notes: dict | None = None):
    """Student model, processor, verdict ids; refused before training when it cannot be a student.

    The student enters the pipeline here: answer tags are added where its tokenizer needs them, and a
    hub processor that tiles images is switched to one frame per creative (recorded in ``notes``).
    """
    from creative4u_small import families
    from creative4u_small.checkpoint import load_model

    model, processor, ids = load_model(cfg.student, train=True, role=families.STUDENT, add_tokens=True, notes=notes)
    if cfg.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha or 2 * cfg.lora_r, lora_dropout=cfg.lora_dropout,
                       target_modules=list(cfg.lora_targets)),
        )
    return model, processor, ids


def _summarise(log_path: Path) -> dict:
    if not log_path.is_file():
        return {}
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    keys = ("loss", "verdict_loss", "token_loss")

    def mean(rs):
        return {k: sum(r[k] for r in rs if k in r) / max(1, sum(k in r for r in rs)) for k in keys}

    tail = rows[-max(1, len(rows) // 10):]
    return {"first": mean(rows[:1]), "final": mean(tail), "logged_steps": len(rows)}


def plot_losses(log_path: Path, png: Path) -> bool:
    """Loss curves (total, verdict, rationale tokens) from log.jsonl; False when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("loss", "verdict_loss", "token_loss"):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts and any(v for _, v in pts):
            ax.plot(*zip(*pts), label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True


def distill(cfg: DistillConfig, progress=None) -> dict:
    """Train the student described by ``cfg``; returns report.json's content."""
    import torch
    from accelerate import PartialState
    from transformers import PrinterCallback, TrainingArguments, set_seed

    from creative4u_small.artifacts import atomic_dir, write_json_atomic, write_provenance
    from creative4u_small.distill.distill_data import DistillCollator, make_examples
    from creative4u_small.pairs import load_pairs

    state = PartialState()  # the processes of `accelerate launch`, or just this one
    resume_from = _prepare_output(cfg, state.is_main_process)
    pairs = load_pairs(Path(cfg.labels), check_images="exists", require="label_or_teacher")
    eval_pairs = load_pairs(Path(cfg.eval_pairs), check_images="exists") if cfg.eval_pairs else None
    set_seed(cfg.seed)
    notes: dict = {}
    student, processor, ids = load_student(cfg, notes)
    with_rationale = cfg.rationale_weight > 0
    examples = make_examples(pairs, cfg.label_weight, with_rationale)
    decision_ids = rationale_decision_ids(processor.tokenizer) if cfg.decision_weight != 1.0 else frozenset()
    module = _verdict_module_class()(student, ids, cfg.rationale_weight, decision_ids, cfg.decision_weight)
    work = partial_dir(cfg.out)
    log_path = work / LOG_FILE
    state.wait_for_everyone()
    if state.is_main_process:
        work.mkdir(parents=True, exist_ok=True)
        write_json_atomic(work / CONFIG_FILE, cfg.to_dict())
        if resume_from is None and log_path.exists():
            log_path.unlink()
    state.wait_for_everyone()
    args = TrainingArguments(
        output_dir=str(work / "checkpoints"),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=warmup_steps(cfg.warmup_ratio, cfg.max_steps),
        lr_scheduler_type=cfg.lr_scheduler,
        logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        data_seed=cfg.seed,
        dataloader_num_workers=cfg.num_workers,
        remove_unused_columns=False,
        label_names=["target_a"],
        report_to="none",
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = _trainer_class()(
        model=module, args=args, train_dataset=examples, processing_class=processor,
        data_collator=DistillCollator(processor, ids, with_rationale, cfg.max_rationale_tokens),
        callbacks=_callbacks(log_path, progress),
    )
    trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    report = {
        "student": cfg.student,
        "pairs": len(pairs),
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_runtime_s": round(time.perf_counter() - start, 2),
        "resumed_from": str(resume_from) if resume_from else None,
        "parameters": sum(p.numel() for p in student.parameters()),
        "trainable_parameters": sum(p.numel() for p in student.parameters() if p.requires_grad),
        "train_loss": result.training_loss,
        **notes,
        **_summarise(log_path),
    }
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return report
    final = student.merge_and_unload() if cfg.lora else student
    final.eval()
    if eval_pairs is not None:
        from creative4u_small.distill.evaluate import evaluate_pairs

        report["eval"] = evaluate_pairs(final, processor, ids, eval_pairs, batch_size=cfg.eval_batch_size)
    with atomic_dir(Path(cfg.out), overwrite=cfg.overwrite) as tmp:
        final.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        if log_path.exists():
            shutil.copy(log_path, tmp / LOG_FILE)
            plot_losses(log_path, tmp / "loss_curve.png")
        write_json_atomic(tmp / CONFIG_FILE, cfg.to_dict())
        write_json_atomic(tmp / REPORT_FILE, report)
        write_provenance(tmp, "distill", cfg.to_dict(), report)
    shutil.rmtree(work, ignore_errors=True)
    return report
