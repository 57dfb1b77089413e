"""The run folder every training stage shares: what it refuses, what may change on resume, its log, its publication.

The stages' own runs (tests/distill/teacher, tests/distill/student) train for real; here the folders are set up by hand.
"""

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from creative4u_small.contract.artifacts import OutputExistsError
from creative4u_small.contract.settings import help_of
from creative4u_small.distill.student.distill_config import DistillConfig
from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
from creative4u_small.distill.training_config import TrainingConfig
from creative4u_small.distill.training_run import (
    LOG_FILE,
    RUN_CONFIG_FILE,
    TrainingRun,
    partial_dir,
    stage_of,
    trainer_arguments,
)


def config(out, **kw):
    return TeacherSFTConfig(model="m", data="d.jsonl", out=str(out), **kw)


class Saves:
    """Stands in for a model or processor: ``save_pretrained`` writes one file."""

    def __init__(self, name):
        self.name = name

    def save_pretrained(self, folder, **kw):
        (folder / self.name).write_text("weights")


def opened(cfg, stage="teacher-sft"):
    run = TrainingRun(cfg, stage)
    run.check()
    return run, run.open()


def interrupted(out, step=2, **kw):
    """A run stopped after checkpoint ``step``: what ``open`` and the trainer leave in the work folder."""
    run, _ = opened(config(out, **kw))
    (run.checkpoints / f"checkpoint-{step}").mkdir(parents=True)
    return run


def test_a_fresh_run_works_in_the_partial_folder_and_publishes_in_one_rename(tmp_path):
    out = tmp_path / "out"
    run, resume_from = opened(config(out))
    assert resume_from is None and run.work == partial_dir(out) and not out.exists()
    assert json.loads((run.work / RUN_CONFIG_FILE).read_text())["stage"] == "teacher-sft"
    run.publish(Saves("model.safetensors"), Saves("tokenizer.json"), {"global_step": 2},
                lambda folder: (folder / "report.json").write_text("{}"))
    assert not run.work.exists()
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "tokenizer.json", "report.json", RUN_CONFIG_FILE, "c4u_provenance.json"}
    assert stage_of(out) == "teacher-sft"
    assert json.loads((out / "c4u_provenance.json").read_text())["results"] == {"global_step": 2}


def test_an_occupied_output_or_a_pending_run_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        TrainingRun(config(out), "teacher-sft").check()
    interrupted(tmp_path / "b")
    with pytest.raises(FileExistsError, match="--resume to continue it or --overwrite"):
        TrainingRun(config(tmp_path / "b"), "teacher-sft").check()
    assert (out / "keep.txt").read_text() == "x"


def test_resume_continues_an_interrupted_run_if_only_resumable_settings_changed(tmp_path):
    out = tmp_path / "out"
    interrupted(out, max_steps=4)
    with pytest.raises(ValueError, match=r"different run \(settings differ: learning_rate, seed\)"):
        TrainingRun(config(out, resume=True, learning_rate=0.1, seed=3), "teacher-sft").check()
    with pytest.raises(ValueError, match=r"settings differ: stage"):
        TrainingRun(config(out, resume=True), "teacher-grpo").check()
    (partial_dir(out) / LOG_FILE).write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in (1, 2, 3)))
    run, resume_from = opened(config(out, resume=True, max_steps=8, save_steps=1, logging_steps=1))
    assert resume_from.endswith("checkpoint-2")
    assert json.loads((run.work / RUN_CONFIG_FILE).read_text())["max_steps"] == 8
    assert [r["step"] for r in run.logged()] == [1, 2]  # step 3 runs again after checkpoint 2


def test_resume_extends_a_finished_run_from_its_checkpoints(tmp_path):
    out = tmp_path / "out"
    run = interrupted(out)
    run.publish(Saves("model.safetensors"), Saves("tokenizer.json"), {})
    assert (out / "checkpoints" / "checkpoint-2").is_dir()  # the checkpoints move along
    run, resume_from = opened(config(out, resume=True, max_steps=5))
    assert resume_from == str(run.checkpoints / "checkpoint-2") and not out.exists()  # trains on in the work folder


def test_resume_of_a_finished_run_without_checkpoints_is_refused(tmp_path):
    out = tmp_path / "out"
    run, _ = opened(config(out, save_steps=0))
    run.checkpoints.mkdir()  # as the trainer leaves it when it saves none
    run.publish(Saves("model.safetensors"), Saves("tokenizer.json"), {})
    assert not (out / "checkpoints").exists()
    with pytest.raises(ValueError, match="nothing to resume"):
        TrainingRun(config(out, resume=True, save_steps=0), "teacher-sft").check()


def test_resume_without_a_run_starts_fresh_and_overwrite_discards_one(tmp_path):
    out = tmp_path / "out"
    assert opened(config(out, resume=True))[1] is None
    run = interrupted(tmp_path / "b")
    (run.work / LOG_FILE).write_text('{"step": 1, "loss": 1.0}\n')
    again, resume_from = opened(config(tmp_path / "b", overwrite=True))
    assert resume_from is None and not (again.work / LOG_FILE).exists() and not again.checkpoints.exists()


def test_overwrite_replaces_the_published_output_only_when_the_new_one_is_ready(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    run, _ = opened(config(out, overwrite=True))
    assert (out / "old.txt").is_file()  # still there while training
    run.publish(Saves("model.safetensors"), Saves("tokenizer.json"), {})
    assert not (out / "old.txt").exists() and (out / "model.safetensors").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftover of the old folder


def test_one_callback_feeds_the_progress_bar_and_the_run_log(tmp_path):
    from transformers import PrinterCallback

    run, _ = opened(config(tmp_path / "out"))
    trainer = SimpleNamespace(callbacks=[PrinterCallback], removed=[])
    trainer.remove_callback = trainer.removed.append
    trainer.add_callback = trainer.callbacks.append
    steps = []
    run.attach(trainer, progress=lambda done, total: steps.append((done, total)))
    callback = trainer.callbacks[-1]
    for rank_zero in (True, False):
        state = SimpleNamespace(global_step=3, max_steps=10, is_world_process_zero=rank_zero)
        callback.on_step_end(None, state, None)
        callback.on_log(None, state, None, logs={"loss": 0.5, "epoch": 0.3})
    callback.on_log(None, SimpleNamespace(global_step=10, is_world_process_zero=True), None, logs={"train_runtime": 1.0})
    assert trainer.removed == [PrinterCallback] and steps == [(3, 10)]
    assert [json.loads(line) for line in run.log_file.read_text().splitlines()] == [
        {"step": 3, "loss": 0.5, "epoch": 0.3}, {"step": 10, "train_runtime": 1.0}]
    assert run.logged() == [{"step": 3, "loss": 0.5, "epoch": 0.3}]


def test_trainer_arguments_come_from_the_shared_fields(tmp_path):
    from transformers import TrainingArguments

    cfg = DistillConfig(model="m", data="d", out="o", max_steps=25, warmup_ratio=0.1, save_steps=0, seed=7, grad_accum=2)
    args = trainer_arguments(cfg, str(tmp_path), TrainingArguments)
    assert (args.max_steps, args.warmup_steps, args.save_strategy, args.seed, args.data_seed) == (25, 2, "no", 7, 7)
    assert (args.gradient_accumulation_steps, args.learning_rate, args.logging_steps, args.disable_tqdm) == (2, 3e-4, 1, True)
    assert args.report_to == [] and not args.remove_unused_columns
    assert cfg.training_args(str(tmp_path)).label_names == ["target_a"]


def test_stage_configs_share_one_declaration_of_each_common_field():
    shared = {name for name in TrainingConfig.__dataclass_fields__}
    for stage in (TeacherSFTConfig, TeacherGRPOConfig, DistillConfig):
        assert shared <= set(stage.__dataclass_fields__)
        assert help_of(stage, "seed") == help_of(TrainingConfig, "seed")
    assert help_of(TeacherGRPOConfig, "learning_rate").startswith(help_of(TrainingConfig, "learning_rate") + " GRPO's default")
    defaults = {stage.__name__: (stage.learning_rate, stage.logging_steps, stage.save_steps, stage.warmup_ratio, stage.lr_scheduler)
                for stage in (TeacherSFTConfig, TeacherGRPOConfig, DistillConfig)}
    assert defaults == {"TeacherSFTConfig": (3e-4, 10, 200, 0.03, "cosine"), "TeacherGRPOConfig": (1e-6, 5, 100, 0.0, "linear"),
                        "DistillConfig": (3e-4, 1, 200, 0.0, "linear")}


@pytest.mark.parametrize("bad, message", [
    ({"max_steps": 0}, "max_steps must be positive or -1"), ({"epochs": 0}, "epochs must be positive"),
    ({"batch_size": 0}, "batch_size must be at least 1"), ({"lora_r": -1}, "lora_r must be >= 0"),
    ({"lora_dropout": 1.0}, "lora_dropout must be in"), ({"warmup_ratio": 1.0}, "warmup_ratio must be in"),
    ({"learning_rate": 0}, "learning_rate must be positive"), ({"resume": True, "overwrite": True}, "contradict"),
    ({"model": ""}, "model is required"),
])
def test_shared_validation_applies_to_every_stage(bad, message):
    for stage in (TeacherSFTConfig, TeacherGRPOConfig, DistillConfig):
        with pytest.raises(ValueError, match=message):
            replace(stage(model="m", data="d", out="o"), **bad)
