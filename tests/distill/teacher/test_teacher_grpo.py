"""Teacher GRPO on the tiny preset: a few steps change the weights, full and LoRA, label reaches rewards."""

from __future__ import annotations

import json
import math

import pytest

from creative4u_small.contract.pairs import load_pairs
from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.teacher.grpo_trainer import build_grpo_trainer, train_grpo
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig


@pytest.fixture(scope="module")
def four_pairs(pairs_subset):
    return pairs_subset(4)


@pytest.fixture(scope="module")
def warm_teacher(tiny_model_dir, four_pairs, tmp_path_factory):
    """The tiny preset after a short, hot CoT-SFT on one fixed batch: it opens with <think> and writes
    protocol-like lines, so sampled completions earn different format rewards and GRPO has a signal.

    The batch comes from the SFT trainer's own collator; the loop is a plain one so the fixture
    costs seconds (train_sft itself is tested in test_teacher_sft.py).
    """
    import torch

    from creative4u_small.distill.teacher.sft_trainer import build_sft_trainer
    from creative4u_small.modeling.checkpoint import load_model

    out = tmp_path_factory.mktemp("grpo") / "warm"
    model, processor, _ = load_model(tiny_model_dir, train=True)
    cfg = TeacherSFTConfig(model=str(tiny_model_dir), data=str(four_pairs), out=str(out / "unused"))
    trainer = build_sft_trainer(cfg, load_pairs(four_pairs), model, processor)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread avoids oversubscription on a shared CPU
    try:
        for _ in range(80):
            opt.zero_grad()
            model(**batch).loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    model.eval().save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out


def config(model, data, out, **kw):
    return TeacherGRPOConfig(model=str(model), data=str(data), out=str(out), **{
        "max_steps": 2, "batch_size": 4, "num_generations": 4, "max_completion_length": 32,
        "learning_rate": 1e-3, "logging_steps": 1, **kw})


def weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_grpo_steps_change_the_weights(warm_teacher, four_pairs, tmp_path):
    import torch

    from creative4u_small.modeling.checkpoint import load_model

    out = tmp_path / "grpo"
    summary = train_grpo(config(warm_teacher, four_pairs, out))
    assert summary["global_step"] == 2 and summary["weights_changed"]
    means = summary["reward_means_last"]
    assert set(means) == {f"rewards/{n}_reward/mean" for n in ("format", "accuracy", "consistency", "text_consistency")}
    assert all(not math.isnan(v) for v in means.values())  # the label column reached the accuracy reward
    assert summary["reward_first"] > 0  # the warm teacher earns format credit
    before, after = weights(warm_teacher), weights(out)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    load_model(out)


def test_grpo_with_lora_saves_a_merged_model(warm_teacher, four_pairs, tmp_path):
    from creative4u_small.modeling.checkpoint import load_model

    out = tmp_path / "grpo-lora"
    summary = train_grpo(config(warm_teacher, four_pairs, out, lora_r=4, learning_rate=1e-2))
    assert summary["lora"] and summary["weights_changed"]
    assert set(weights(out)) == set(weights(warm_teacher)) and not (out / "adapter_config.json").exists()
    model, _, _ = load_model(out)
    assert type(model).__name__ == "Idefics3ForConditionalGeneration"


def test_grpo_dataset_and_reward_wiring(tiny_model_dir, four_pairs, tmp_path):
    from creative4u_small.modeling.checkpoint import load_model

    model, processor, _ = load_model(tiny_model_dir, train=True)
    cfg = config(tiny_model_dir, four_pairs, tmp_path / "w", format_weight=2.0, consistency_weight=0.0)
    trainer = build_grpo_trainer(cfg, load_pairs(four_pairs), model, processor)
    row = trainer.train_dataset[1]
    assert row["order"] == "BA" and len(row["images"]) == 2 and row["label"] in ("A", "B")
    assert [f.__name__ for f in trainer.reward_funcs] == ["format_reward", "accuracy_reward", "consistency_reward", "text_consistency_reward"]
    assert trainer.reward_weights.tolist() == [2.0, 1.0, 0.0, 0.5]


def test_unlabelled_pairs_are_refused(tiny_model_dir, four_pairs, tmp_path):
    bad = tmp_path / "nolabel.jsonl"
    lines = four_pairs.read_text().splitlines()
    rec = json.loads(lines[0])
    rec.pop("label")
    bad.write_text("\n".join([json.dumps(rec), *lines[1:]]) + "\n")
    with pytest.raises(ValueError, match="no label"):
        train_grpo(config(tiny_model_dir, bad, tmp_path / "never"))
    assert not (tmp_path / "never").exists()


def test_config_validation_and_vllm_pass_through(tmp_path):
    with pytest.raises(ValueError, match="multiple of num_generations"):
        TeacherGRPOConfig(model="m", data="d", out="o", batch_size=6, num_generations=4)
    with pytest.raises(ValueError, match="reward weights"):
        TeacherGRPOConfig(model="m", data="d", out="o", format_weight=0, accuracy_weight=0, consistency_weight=0,
                          text_consistency_weight=0)
    cfg = TeacherGRPOConfig(model="m", data="d", out="o", use_vllm=True, vllm_mode="server", num_generations=2,
                            batch_size=6, max_completion_length=64, temperature=0.9, beta=0.04, learning_rate=2e-6,
                            max_steps=7, seed=3, consistency_weight=0.25)
    args = cfg.training_args(str(tmp_path / "run"))  # trl's own GRPOConfig: a renamed or dropped field fails here
    assert (args.use_vllm, args.vllm_mode) == (True, "server")
    assert list(args.reward_weights) == [1.0, 1.0, 0.25, 0.5]
    assert (args.num_generations, args.per_device_train_batch_size, args.max_completion_length) == (2, 6, 64)
    assert (args.temperature, args.beta, args.learning_rate, args.max_steps, args.seed) == (0.9, 0.04, 2e-6, 7, 3)
    assert args.output_dir == str(tmp_path / "run") and args.report_to == []
    assert not TeacherGRPOConfig(model="m", data="d", out="o").training_args(str(tmp_path / "plain")).use_vllm
