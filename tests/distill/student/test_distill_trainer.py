"""`distill()` on the tiny preset: weights change, the student loads, runs resume, bad input is refused."""

import json
import shutil
from dataclasses import replace

import pytest
import torch

from creative4u_small.contract import protocol
from creative4u_small.contract.artifacts import OutputExistsError
from creative4u_small.contract.pairs import PairsError, TeacherLabel, load_pairs, write_pairs
from creative4u_small.contract.protocol import VerdictTokenError
from creative4u_small.distill.evaluate.eval_config import EvalConfig
from creative4u_small.distill.student.distill_config import DistillConfig
from creative4u_small.distill.student.distill_trainer import distill
from creative4u_small.distill.training_run import LOG_FILE, RUN_CONFIG_FILE, partial_dir, stage_of
from creative4u_small.modeling.checkpoint import load_model


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, synth_pairs_file):
    """16 synthetic pairs with soft teacher labels and the synthetic rationale as the kept one."""
    pairs = load_pairs(synth_pairs_file)[:16]
    out = tmp_path_factory.mktemp("labels") / "labelled.jsonl"
    write_pairs(
        [replace(p, teacher=TeacherLabel(0.85 if p.label == "A" else 0.15, p.label, [p.rationale], "synthetic")) for p in pairs],
        out,
    )
    return out


def _cfg(student, labels, out, **kw):
    base = dict(model=str(student), data=str(labels), out=str(out), max_steps=4, batch_size=4,
                rationale_weight=0.2, max_rationale_tokens=64, save_steps=2)
    return DistillConfig(**{**base, **kw})


def _weights(folder):
    model, _, _ = load_model(folder)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_distill_changes_weights_and_writes_a_loadable_student(tiny_model_dir, labelled, tmp_path):
    out = tmp_path / "student"
    report = distill(_cfg(tiny_model_dir, labelled, out, eval_pairs=str(labelled)))
    before, after = _weights(tiny_model_dir), _weights(out)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2
    assert report["steps"] == 4 and report["pairs"] == 16
    assert report["final"]["token_loss"] > 0 and report["final"]["verdict_loss"] > 0
    pairs = load_pairs(labelled)
    tok = load_model(out)[1].tokenizer
    longest = max(len(tok(protocol.slot(p.query), add_special_tokens=False)["input_ids"]) for p in pairs)
    assert report["slot_tokens"]["query"] == longest > 0 and report["slot_tokens"]["title"] > 0  # the export's text budget reads it
    # the report's evaluation is of the student as saved: an independent load of `out` gives the same figures
    from creative4u_small.distill.evaluate.evaluate import evaluate_model

    again = evaluate_model(EvalConfig(model=str(out), pairs=str(labelled), batch_size=8))
    for key in ("accuracy", "order_consistency", "ece", "mean_p_first_shown"):
        assert report["eval"][key] == pytest.approx(again[key], abs=1e-6), key
    assert report["eval"]["teacher"] == pytest.approx(again["teacher"], abs=1e-6) and again["teacher"]["pairs"] == 16
    log = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4] and all("verdict_loss" in r for r in steps)
    assert "train_runtime" in log[-1]  # the trainer's closing summary
    assert json.loads((out / "report.json").read_text())["steps"] == 4
    assert stage_of(out) == "distill" and json.loads((out / RUN_CONFIG_FILE).read_text())["rationale_weight"] == 0.2
    assert (out / "loss_curve.png").stat().st_size > 1000
    assert not partial_dir(out).exists()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        distill(_cfg(tiny_model_dir, labelled, out))


def test_one_step_with_a_warm_up_ratio_changes_the_weights(tiny_model_dir, labelled, tmp_path):
    report = distill(_cfg(tiny_model_dir, labelled, tmp_path / "s", max_steps=1, warmup_ratio=0.5, save_steps=0))
    assert report["steps"] == 1
    before, after = _weights(tiny_model_dir), _weights(tmp_path / "s")
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_warm_up_is_the_floor_of_the_ratio_of_known_steps():
    from creative4u_small.distill.training_run import warmup_steps

    assert warmup_steps(0.03, 1) == 0 and warmup_steps(0.1, 25) == 2 and warmup_steps(0.5, 4) == 2
    assert warmup_steps(0.03, -1) == 0.03  # epochs: transformers applies the ratio to the steps it counts
    with pytest.raises(ValueError, match="warmup_ratio"):
        warmup_steps(1.0, 10)


def test_rationale_weight_zero_trains_the_verdict_only(tiny_model_dir, labelled, tmp_path):
    report = distill(_cfg(tiny_model_dir, labelled, tmp_path / "s", rationale_weight=0.0, max_steps=2, save_steps=0))
    assert report["final"]["token_loss"] == 0.0 and report["final"]["loss"] == pytest.approx(report["final"]["verdict_loss"])


def test_interrupted_run_resumes_to_the_same_weights(tiny_model_dir, labelled, tmp_path):
    straight = tmp_path / "straight"
    distill(_cfg(tiny_model_dir, labelled, straight, seed=3))

    def crash(step, total):
        if step == 3:
            raise KeyboardInterrupt

    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        distill(_cfg(tiny_model_dir, labelled, out, seed=3), progress=crash)
    assert not out.exists() and (partial_dir(out) / "checkpoints" / "checkpoint-2").is_dir()
    with pytest.raises(FileExistsError, match="--resume"):
        distill(_cfg(tiny_model_dir, labelled, out, seed=3))
    with pytest.raises(ValueError, match="learning_rate"):
        distill(_cfg(tiny_model_dir, labelled, out, seed=3, resume=True, learning_rate=1e-3))
    report = distill(_cfg(tiny_model_dir, labelled, out, seed=3, resume=True))
    assert report["resumed_from"].endswith("checkpoint-2") and report["steps"] == 4
    a, b = _weights(straight), _weights(out)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_lora_run_saves_a_merged_student(tiny_model_dir, labelled, tmp_path):
    out = tmp_path / "lora"
    report = distill(_cfg(tiny_model_dir, labelled, out, lora_r=4, lora_alpha=8, learning_rate=5e-3))
    assert report["trainable_parameters"] < report["parameters"]
    assert not any("lora" in k for k in _weights(out))
    before, after = _weights(tiny_model_dir), _weights(out)
    assert any(not torch.equal(before[k], after[k]) for k in before if "text_model.layers" in k)
    frozen = [k for k in before if "embed" in k or "norm" in k]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)


def test_labels_without_teacher_or_label_are_refused_with_the_line(tiny_model_dir, labelled, tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = labelled.read_text().splitlines()
    rec = json.loads(lines[2])
    rec.pop("teacher"), rec.pop("label")
    for k in ("image_a", "image_b"):
        rec[k] = str(labelled.parent / rec[k])
    bad.write_text("\n".join([lines[0].replace('"img/', f'"{labelled.parent}/img/'), lines[1].replace('"img/', f'"{labelled.parent}/img/'), json.dumps(rec)]) + "\n")
    with pytest.raises(PairsError, match=r"bad.jsonl:3: label_or_teacher"):
        distill(_cfg(tiny_model_dir, bad, tmp_path / "s"))
    assert not (tmp_path / "s").exists() and not partial_dir(tmp_path / "s").exists()


def test_student_without_single_token_verdicts_is_refused_before_training(tiny_model_dir, labelled, tmp_path):
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    tok = AutoTokenizer.from_pretrained(broken)
    tok.add_tokens([AddedToken("<answer>A", normalized=False, special=True)])  # "A" no longer follows <answer> alone
    tok.save_pretrained(broken)
    with pytest.raises(VerdictTokenError, match="single token"):
        distill(_cfg(broken, labelled, tmp_path / "s"))
    assert not partial_dir(tmp_path / "s").exists()


def test_config_validation():
    with pytest.raises(ValueError, match="label_weight"):
        DistillConfig(model="s", data="l", out="o", label_weight=2.0)
    with pytest.raises(ValueError, match="--resume"):
        DistillConfig(model="s", data="l", out="o", resume=True, overwrite=True)
    with pytest.raises(ValueError, match="required"):
        DistillConfig(model="", data="l", out="o")
