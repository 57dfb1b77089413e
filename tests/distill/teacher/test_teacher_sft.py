"""Teacher CoT-SFT on the tiny preset: full and LoRA runs, completion-only loss, resume, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import PairsError, load_pairs
from creative4u_small.distill import training_run
from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
from creative4u_small.distill.teacher.sft_trainer import build_sft_trainer, train_sft


@pytest.fixture(scope="module")
def few_pairs(pairs_subset):
    return pairs_subset(4)


def config(model, data, out, **kw):
    return TeacherSFTConfig(model=str(model), data=str(data), out=str(out), **{"max_steps": 2, "batch_size": 4, "learning_rate": 1e-3, **kw})


def weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def changed(a, b):
    import torch

    return [k for k in a if not torch.equal(a[k], b[k])]


def test_batches_hold_two_images_and_mask_the_prompt(tiny_model_dir, few_pairs, tmp_path):
    from creative4u_small.modeling.checkpoint import load_model

    model, processor, _ = load_model(tiny_model_dir, train=True)
    cfg = config(tiny_model_dir, few_pairs, tmp_path / "run")
    pairs = load_pairs(few_pairs)
    trainer = build_sft_trainer(cfg, pairs, model, processor)
    assert len(trainer.train_dataset) == 2 * len(pairs)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert tuple(batch["pixel_values"].shape[:2]) == (2, 2)  # two rows, two creatives each
    image_id = model.config.image_token_id
    assert int((batch["input_ids"][0] == image_id).sum()) == 2 * processor.image_seq_len
    trained = batch["labels"][0][batch["labels"][0] != -100]
    text = processor.tokenizer.decode(trained)
    assert text.strip().startswith(protocol.THINK_OPEN) and pairs[0].rationale in text
    assert "Creative A:" not in text  # no prompt token carries loss
    swapped = processor.tokenizer.decode(batch["labels"][1][batch["labels"][1] != -100])
    assert protocol.swap_teacher_completion(pairs[0].rationale) in swapped


def test_both_orders_of_a_pair_share_a_batch_and_pairs_reshuffle_each_epoch():
    from creative4u_small.distill.teacher.sft_trainer import PairedOrderSampler

    sampler = PairedOrderSampler(20, seed=3)
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        assert sorted(epoch) == list(range(20))
        assert all(epoch[k] % 2 == 0 and epoch[k + 1] == epoch[k] + 1 for k in range(0, 20, 2))
    assert first != second  # a new order every epoch
    sampler.set_epoch(0)
    assert list(sampler) == first  # and a reproducible one
    with pytest.raises(ValueError, match="two rows"):
        PairedOrderSampler(7)


def test_trainer_batches_follow_pairs(tiny_model_dir, few_pairs, tmp_path):
    from creative4u_small.modeling.checkpoint import load_model

    model, processor, _ = load_model(tiny_model_dir, train=True)
    trainer = build_sft_trainer(config(tiny_model_dir, few_pairs, tmp_path / "run"), load_pairs(few_pairs), model, processor)
    orders = [trainer.train_dataset[i]["order"] for i in trainer._get_train_sampler()]
    assert orders == ["AB", "BA"] * (len(orders) // 2)


def test_decision_tokens_are_the_comparison_symbols(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = protocol.decision_token_ids(tok)
    assert sorted(tok.convert_ids_to_tokens(sorted(ids))) == ["<", "=", ">"]
    line = tok.encode("Q8 product subject: A<B", add_special_tokens=False)
    assert [tok.convert_ids_to_tokens(i) for i in line if i in ids] == ["<"]


def test_decision_weight_scales_the_loss_of_comparison_tokens_only(tiny_model_dir, few_pairs, tmp_path):
    """trl's loss with the weights equals a hand-computed weighted NLL over the same batch."""
    import torch

    from creative4u_small.distill.token_weights import decision_weights
    from creative4u_small.modeling.checkpoint import load_model

    model, processor, _ = load_model(tiny_model_dir, train=True)
    pairs = load_pairs(few_pairs)
    losses = {}
    for w in (1.0, 4.0):
        trainer = build_sft_trainer(config(tiny_model_dir, few_pairs, tmp_path / f"w{w}", decision_weight=w), pairs, model, processor)
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
        with torch.no_grad():
            losses[w] = float(trainer.compute_loss(model, dict(batch)))
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none") * (labels != -100)
    ids = protocol.decision_token_ids(processor.tokenizer)
    n = (labels != -100).sum()
    assert losses[1.0] == pytest.approx(float(nll.sum() / n), rel=1e-4)
    assert losses[4.0] == pytest.approx(float((nll * decision_weights(labels, ids, 4.0)).sum() / n), rel=1e-4)
    assert int(torch.isin(labels, torch.tensor(sorted(ids))).sum()) >= 4 * 7  # Q3–Q9 in every row
    assert losses[4.0] > losses[1.0]


def test_full_fine_tune_changes_weights_and_saves_a_checkpoint(tiny_model_dir, few_pairs, tmp_path, capsys):
    from creative4u_small.modeling.checkpoint import load_model

    out = tmp_path / "full"
    steps = []
    summary = train_sft(config(tiny_model_dir, few_pairs, out, logging_steps=1), progress=lambda d, t: steps.append((d, t)))
    assert summary["global_step"] == 2 and summary["weights_changed"] and not summary["lora"]
    assert steps == [(1, 2), (2, 2)]  # what the CLI's progress bar (and its ETA) is fed
    assert "{'loss'" not in capsys.readouterr().out  # trl's raw log dicts are not printed ...
    logged = [json.loads(line) for line in (out / training_run.LOG_FILE).read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2]  # ... they are kept in the run folder
    assert len(changed(weights(tiny_model_dir), weights(out))) > 10
    model, processor, ids = load_model(out)
    assert ids == protocol.verdict_token_ids(processor.tokenizer)
    prov = json.loads((out / "c4u_provenance.json").read_text())
    assert prov["stage"] == "teacher-sft" and prov["config"]["lora_r"] == 0


def test_one_step_with_the_default_warm_up_changes_the_weights(tiny_model_dir, few_pairs, tmp_path):
    out = tmp_path / "one"
    summary = train_sft(config(tiny_model_dir, few_pairs, out, max_steps=1))  # warmup_ratio 0.03 by default
    assert summary["global_step"] == 1 and summary["weights_changed"]
    assert len(changed(weights(tiny_model_dir), weights(out))) > 10


def test_lora_run_saves_a_merged_model(tiny_model_dir, few_pairs, tmp_path):
    from creative4u_small.modeling.checkpoint import load_model

    out = tmp_path / "lora"
    summary = train_sft(config(tiny_model_dir, few_pairs, out, lora_r=4, learning_rate=5e-3))
    assert summary["lora"] and summary["weights_changed"]
    assert not (out / "adapter_config.json").exists()
    base, merged = weights(tiny_model_dir), weights(out)
    assert set(base) == set(merged)  # same parameter names: a plain checkpoint, no lora_ tensors
    assert changed(base, merged)
    model, _, _ = load_model(out)
    assert type(model).__name__ == "Idefics3ForConditionalGeneration"


def test_resume_continues_from_the_last_checkpoint(tiny_model_dir, few_pairs, tmp_path):
    out = tmp_path / "resume"
    first = train_sft(config(tiny_model_dir, few_pairs, out, save_steps=1, save_total_limit=3))
    assert first["resumed_from"] is None
    assert training_run.last_checkpoint(out).endswith("checkpoint-2")
    again = train_sft(config(tiny_model_dir, few_pairs, out, max_steps=3, save_steps=1, save_total_limit=3, resume=True))
    assert again["resumed_from"].endswith("checkpoint-2") and again["global_step"] == 3


def test_missing_image_stops_with_its_line_before_training(tiny_model_dir, few_pairs, tmp_path, image_gone):
    bad = image_gone(few_pairs, 2, "image_b")
    with pytest.raises(PairsError, match=r"bad\.jsonl:3: image_b: image file not found"):
        train_sft(config(tiny_model_dir, bad, tmp_path / "never"))
    assert not (tmp_path / "never").exists()


def test_missing_rationale_is_named_with_its_line(tiny_model_dir, few_pairs, tmp_path):
    bad = tmp_path / "norat.jsonl"
    lines = few_pairs.read_text().splitlines()
    rec = json.loads(lines[1])
    rec.pop("rationale")
    lines[1] = json.dumps(rec)
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"norat\.jsonl:2: rationale: missing"):
        train_sft(config(tiny_model_dir, bad, tmp_path / "never"))


def test_an_occupied_output_folder_is_refused_unless_overwrite(tiny_model_dir, few_pairs, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "other.txt").write_text("someone else's run")
    with pytest.raises(FileExistsError, match="--overwrite"):
        train_sft(config(tiny_model_dir, few_pairs, out, max_steps=1))
    assert (out / "other.txt").exists()
    # resuming a folder written with other settings is refused too
    shutil.rmtree(out)
    train_sft(config(tiny_model_dir, few_pairs, out, max_steps=1))
    with pytest.raises(ValueError, match="different run.*learning_rate"):
        train_sft(config(tiny_model_dir, few_pairs, out, max_steps=1, learning_rate=0.1, resume=True))
    summary = train_sft(config(tiny_model_dir, few_pairs, out, max_steps=1, overwrite=True))
    assert summary["global_step"] == 1


def test_config_validation():
    with pytest.raises(ValueError, match="lora_r"):
        TeacherSFTConfig(model="m", data="d", out="o", lora_r=-1)
    with pytest.raises(ValueError, match="contradict"):
        TeacherSFTConfig(model="m", data="d", out="o", resume=True, overwrite=True)
    args = TeacherSFTConfig(model="m", data="d", out="o").training_args("x")
    assert args.max_length is None and args.completion_only_loss and not args.bf16
