"""One training run, whatever the stage (teacher CoT-SFT, GRPO, student distillation).

A run works in ``<out>.partial/``: ``run_config.json`` (the resolved config, written before
training starts), ``train_log.jsonl`` (every log dict of the trainer) and ``checkpoints/``
(transformers checkpoints, for ``--resume``). When training ends the model and processor in
Hugging Face format, the stage's own files and ``c4u_provenance.json`` are written beside them
and the folder becomes ``<out>`` in one rename, so ``<out>`` is absent or complete, never
half-written. The checkpoints move along: ``--resume`` on a finished run extends it.

One rule decides what a resumption may change (``RESUMABLE_FIELDS``); one callback feeds the
progress bar and the run log; one function turns a config into the trainer's arguments.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from creative4u_small.contract.artifacts import PROVENANCE_FILE, OutputExistsError, check_fresh_output, write_json_atomic, write_provenance

RUN_CONFIG_FILE = "run_config.json"
LOG_FILE = "train_log.jsonl"
CHECKPOINT_DIR = "checkpoints"
# The only settings that may differ between a run and its resumption; any other difference makes it another run.
RESUMABLE_FIELDS = frozenset({"resume", "overwrite", "epochs", "max_steps", "save_steps", "save_total_limit",
                              "logging_steps", "num_workers", "eval_pairs", "eval_batch_size"})


def partial_dir(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".partial")


def checkpoint_dir(out: Path) -> Path:
    """Where the run publishing to ``out`` keeps its checkpoints while it trains."""
    return partial_dir(out) / CHECKPOINT_DIR


def last_checkpoint(folder: Path) -> str | None:
    """The newest ``checkpoint-N`` under ``folder/checkpoints`` (a work folder or a finished run)."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = Path(folder) / CHECKPOINT_DIR
    return get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None


def stage_of(folder: Path) -> str | None:
    """The stage that wrote ``folder`` (a published model or a run's work folder); None if it says none."""
    for name in (PROVENANCE_FILE, RUN_CONFIG_FILE):
        path = Path(folder) / name
        if path.is_file():
            return json.loads(path.read_text()).get("stage")
    return None


class TrainingRun:
    """The folders of one run: ``check`` before anything is loaded, ``open`` before training, ``publish`` after."""

    def __init__(self, config, stage: str):
        self.config, self.stage = config, stage
        self.out = Path(config.out)
        self.work = partial_dir(self.out)
        self.checkpoints = self.work / CHECKPOINT_DIR
        self.log_file = self.work / LOG_FILE
        self._source: Path | None = None

    def settings(self) -> dict:
        """The config as JSON has it (tuples become lists), so a saved one compares equal."""
        return json.loads(json.dumps(asdict(self.config)))

    def check(self) -> None:
        """Refuse what the run may not touch; writes nothing, so every process of `accelerate launch` can check.

        Without --overwrite ``out`` must be empty, unless --resume extends the finished run it holds; without
        --resume or --overwrite no interrupted run may be pending. With --resume the run continues the
        interrupted one in the work folder, else the finished one in ``out``, if their saved settings equal
        these but for ``RESUMABLE_FIELDS``.
        """
        cfg = self.config
        self._source = next((d for d in (self.work, self.out) if (d / RUN_CONFIG_FILE).is_file()), None) if cfg.resume else None
        if self._source != self.out:
            check_fresh_output(self.out, cfg.overwrite, f"{self.stage} output")
        if self._source is None:
            if self.work.exists() and not (cfg.resume or cfg.overwrite):
                raise FileExistsError(f"{self.work} holds an interrupted run; pass --resume to continue it or --overwrite to start over")
            return
        saved = json.loads((self._source / RUN_CONFIG_FILE).read_text())
        resolved = {"stage": self.stage, **self.settings()}
        differ = sorted(k for k in set(saved) | set(resolved) if k not in RESUMABLE_FIELDS and saved.get(k) != resolved.get(k))
        if differ:
            raise ValueError(f"{self._source} holds a different run (settings differ: {', '.join(differ)}); "
                             "resume with the same settings or pass --overwrite")
        if self._source == self.out and last_checkpoint(self.out) is None:
            raise ValueError(f"{self.out} holds a finished run without checkpoints (save_steps 0): nothing to resume; pass --overwrite to train again")

    def open(self) -> str | None:
        """Create or reopen the work folder and save the resolved config; returns the checkpoint to resume from."""
        import torch
        from accelerate import PartialState

        state = PartialState(cpu=not torch.cuda.is_available())  # as the training arguments will set it up
        state.wait_for_everyone()
        if state.is_main_process:
            if self._source == self.out:
                self.out.rename(self.work)  # a finished run trains on where it stopped
            elif self._source is None or last_checkpoint(self.work) is None:
                shutil.rmtree(self.work, ignore_errors=True)
            self.work.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.work / RUN_CONFIG_FILE, {"stage": self.stage, **self.settings()})
            checkpoint = last_checkpoint(self.work)
            if checkpoint is not None:
                self._cut_log_after(int(Path(checkpoint).name.rsplit("-", 1)[1]))
        state.wait_for_everyone()
        return last_checkpoint(self.work) if self._source is not None else None

    def _cut_log_after(self, step: int) -> None:
        """Drop the log lines past the checkpoint a resumption starts from: those steps run again."""
        if not self.log_file.is_file():
            return
        kept = [line for line in self.log_file.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
        tmp = self.log_file.with_name(self.log_file.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        tmp.replace(self.log_file)

    def attach(self, trainer, progress=None):
        """Steps go to ``progress(step, max_steps)`` (the CLI's bar) and log dicts to ``train_log.jsonl``, instead
        of the trainer printing raw ``{'loss': ...}`` lines; returns the trainer."""
        from transformers import PrinterCallback, TrainerCallback

        log_file = self.log_file

        class RunLog(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if progress is not None and state.is_world_process_zero:
                    progress(state.global_step, state.max_steps)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and state.is_world_process_zero:
                    with open(log_file, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"step": state.global_step, **logs}) + "\n")

        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(RunLog())
        return trainer

    def logged(self, key: str = "loss") -> list[dict]:
        """The log lines that carry ``key`` (the per-step ones, without the closing summary)."""
        if not self.log_file.is_file():
            return []
        rows = [json.loads(line) for line in self.log_file.read_text().splitlines() if line.strip()]
        return [r for r in rows if key in r]

    def publish(self, model, processor, results: dict, write_extra=None) -> None:
        """Save the final model beside the run's files and make the work folder ``out`` (main process only).

        ``write_extra(folder)`` adds the stage's own files. A previous ``out`` is replaced only with --overwrite.
        """
        model.save_pretrained(self.work, safe_serialization=True)
        processor.save_pretrained(self.work)
        if write_extra is not None:
            write_extra(self.work)
        write_provenance(self.work, self.stage, self.settings(), results)
        if self.checkpoints.is_dir() and not any(self.checkpoints.iterdir()):
            self.checkpoints.rmdir()  # save_steps 0: no checkpoint was written
        out = self.out
        if out.exists() and any(out.iterdir()) and not self.config.overwrite:
            raise OutputExistsError(f"{out} was filled while training; the trained run stays in {self.work}")
        old = out.with_name(f".{out.name}.old") if out.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        self.work.rename(out)
        if old is not None:
            shutil.rmtree(old)


def merged(model):
    """The model with its LoRA adapters merged in (a plain checkpoint), or the model itself."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def lora_config(config, target_modules="all-linear"):
    """A peft LoRA over ``target_modules`` from the config's lora_r/lora_alpha/lora_dropout (None when lora_r is 0)."""
    if config.lora_r <= 0:
        return None
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha or 2 * config.lora_r, lora_dropout=config.lora_dropout,
                      target_modules=target_modules, task_type="CAUSAL_LM")


def warmup_steps(ratio: float, max_steps: int) -> float | int:
    """The ``warmup_steps`` argument for a run of ``max_steps`` (-1: epochs, left to transformers as a ratio).

    transformers reads a float ``warmup_steps`` below 1 as a ratio but rounds it up, and its linear
    warm-up starts at learning rate 0: a run of a few steps would spend its first step, or its only
    one, not learning. Where the step count is known the warm-up here is ``floor(ratio × steps)``.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"warmup_ratio must be in [0, 1), got {ratio}")
    return int(ratio * max_steps) if max_steps > 0 else ratio


def trainer_arguments(config, output_dir: str, args_class, **own):
    """``args_class`` (transformers' ``TrainingArguments``, trl's ``SFTConfig`` or ``GRPOConfig``) from a
    ``TrainingConfig`` and the stage's ``own`` arguments: checkpoints every ``save_steps`` for --resume, the
    data order from the seed, no tqdm and no reporting (the CLI draws a bar, the run log keeps the losses)."""
    import torch

    return args_class(
        output_dir=output_dir,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=warmup_steps(config.warmup_ratio, config.max_steps),
        lr_scheduler_type=config.lr_scheduler,
        logging_steps=config.logging_steps,
        save_strategy="steps" if config.save_steps else "no",
        save_steps=max(config.save_steps, 1),
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=config.num_workers,
        use_cpu=not torch.cuda.is_available(),
        report_to=[],
        remove_unused_columns=False,
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
        **own,
    )
