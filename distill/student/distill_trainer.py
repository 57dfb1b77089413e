"""`c4u distill`: train a small VLM student on the teacher's soft verdicts and rationales, answer-first.

Built on ``transformers.Trainer`` so that checkpoints, ``--resume`` and ``accelerate launch`` work
as they do for any Trainer run, in the run folder every training stage shares
(``training_run``). The trained module wraps the student so that the whole loss (image encoding
once per distinct image, the verdict at the answer position, the rationale tokens) runs inside
``forward``, which DDP needs for gradient synchronisation.
"""

from __future__ import annotations

import time
from pathlib import Path

from creative4u_small.contract.artifacts import write_json_atomic
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.distill.evaluate.evaluate import evaluate_pairs
from creative4u_small.distill.student.distill_config import STAGE, DistillConfig
from creative4u_small.distill.student.distill_data import DistillCollator, make_examples, slot_tokens
from creative4u_small.distill.student.losses import rationale_decision_ids, soft_verdict_loss, token_loss
from creative4u_small.distill.token_weights import decision_weights
from creative4u_small.distill.training_run import TrainingRun, lora_config, merged
from creative4u_small.modeling import families
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.modeling.scorer import ORDERS, JudgeBatch, image_features, verdict_logits

REPORT_FILE = "report.json"
LOSS_KEYS = ("loss", "verdict_loss", "token_loss")


def _verdict_module_class():
    import torch
    from transformers.modeling_outputs import BaseModelOutputWithPooling

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


def load_student(cfg: DistillConfig, notes: dict | None = None):
    """Student model, processor, verdict ids; refused before training when it cannot be a student.

    The student enters the pipeline here: answer tags are added where its tokenizer needs them, and a
    hub processor that tiles images is switched to one frame per creative (recorded in ``notes``).
    """

    model, processor, ids = load_model(cfg.model, train=True, role=families.STUDENT, add_tokens=True, notes=notes)
    lora = lora_config(cfg, list(cfg.lora_targets))
    if lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, lora)
    return model, processor, ids


def summarise(rows: list[dict]) -> dict:
    """The losses of the first logged step and the mean of the last tenth of them."""
    if not rows:
        return {}

    def mean(rs):
        return {k: sum(r[k] for r in rs if k in r) / max(1, sum(k in r for r in rs)) for k in LOSS_KEYS}

    tail = rows[-max(1, len(rows) // 10):]
    return {"first": mean(rows[:1]), "final": mean(tail), "logged_steps": len(rows)}


def plot_losses(rows: list[dict], png: Path) -> bool:
    """Loss curves (total, verdict, rationale tokens) of the logged steps; False when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in LOSS_KEYS:
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
    """Train the student described by ``cfg`` and publish it into ``cfg.out``; returns report.json's content."""
    from transformers import set_seed

    run = TrainingRun(cfg, STAGE)
    run.check()
    pairs = load_pairs(Path(cfg.data), check_images="exists", require="label_or_teacher")
    eval_pairs = load_pairs(Path(cfg.eval_pairs), check_images="exists") if cfg.eval_pairs else None
    set_seed(cfg.seed)
    notes: dict = {}
    student, processor, ids = load_student(cfg, notes)
    with_rationale = cfg.rationale_weight > 0
    examples = make_examples(pairs, cfg.label_weight, with_rationale)
    decision_ids = rationale_decision_ids(processor.tokenizer) if cfg.decision_weight != 1.0 else frozenset()
    module = _verdict_module_class()(student, ids, cfg.rationale_weight, decision_ids, cfg.decision_weight)
    resume_from = run.open()
    trainer = run.attach(_trainer_class()(
        model=module, args=cfg.training_args(str(run.checkpoints)), train_dataset=examples, processing_class=processor,
        data_collator=DistillCollator(processor, ids, with_rationale, cfg.max_rationale_tokens),
    ), progress)
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    logged = run.logged()
    report = {
        "student": cfg.model,
        "pairs": len(pairs),
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_runtime_s": round(time.perf_counter() - start, 2),
        "resumed_from": resume_from,
        "parameters": sum(p.numel() for p in student.parameters()),
        "trainable_parameters": sum(p.numel() for p in student.parameters() if p.requires_grad),
        "train_loss": result.training_loss,
        "slot_tokens": slot_tokens(pairs, processor.tokenizer),
        **notes,
        **summarise(logged),
    }
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return report
    final = merged(student)
    final.eval()
    if eval_pairs is not None:
        report["eval"] = evaluate_pairs(final, processor, ids, eval_pairs, batch_size=cfg.eval_batch_size)

    def write_report(folder: Path) -> None:
        write_json_atomic(folder / REPORT_FILE, report)
        plot_losses(logged, folder / "loss_curve.png")

    run.publish(final, processor, report, write_report)
    return report
