"""Every family × command on hub-shaped checkpoints (slow: run with ``pytest -m slow``).

Teachers (Qwen2.5-VL, Qwen3-VL, SmolVLM): `teacher sft` full and LoRA, one `teacher grpo` step,
`label`, `eval`. Students (SmolVLM, SmolVLM2): `distill`, `eval`, `export` fp32 and INT8, `select`,
`rank`. Anything else: the one-line refusal. The README's path (Qwen2.5-VL into SmolVLM) runs in the
default suite (tests/test_readme_path.py).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from creative4u_small.contract import protocol


@pytest.fixture(scope="module")
def four_pairs(pairs_subset):
    return pairs_subset(4)


@pytest.fixture(scope="module")
def labelled(four_pairs, tmp_path_factory):
    from creative4u_small.contract.pairs import TeacherLabel, load_pairs, write_pairs

    out = tmp_path_factory.mktemp("hub-labels") / "labelled.jsonl"
    pairs = load_pairs(four_pairs)
    write_pairs([replace(p, teacher=TeacherLabel(0.8 if p.label == "A" else 0.2, p.label, [p.rationale], "synthetic")) for p in pairs], out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["hub_qwen25vl", "hub_qwen3vl", "hub_smolvlm"])
def test_teacher_family_trains_labels_and_evaluates(fixture, request, four_pairs, tmp_path):
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.distill.evaluate.eval_config import EvalConfig
    from creative4u_small.distill.evaluate.evaluate import evaluate_model
    from creative4u_small.distill.label.label import label_pairs
    from creative4u_small.distill.label.label_config import LabelConfig
    from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
    from creative4u_small.distill.teacher.grpo_trainer import train_grpo
    from creative4u_small.distill.teacher.sft_config import TeacherSFTConfig
    from creative4u_small.distill.teacher.sft_trainer import train_sft

    hub = str(request.getfixturevalue(fixture))
    sft = dict(model=hub, data=str(four_pairs), max_steps=1, batch_size=4)
    full = train_sft(TeacherSFTConfig(out=str(tmp_path / "full"), **sft))
    assert full["weights_changed"] and not full["lora"]
    lora = train_sft(TeacherSFTConfig(out=str(tmp_path / "lora"), lora_r=4, **sft))
    assert lora["weights_changed"] and lora["lora"]
    grpo = train_grpo(TeacherGRPOConfig(model=str(tmp_path / "full"), data=str(four_pairs), out=str(tmp_path / "grpo"),
                                        max_steps=1, batch_size=2, num_generations=2, max_completion_length=8))
    assert grpo["global_step"] == 1
    out = tmp_path / "labelled.jsonl"
    summary = label_pairs(LabelConfig(teacher=str(tmp_path / "grpo"), pairs=str(four_pairs), out=str(out), k=1, max_new_tokens=8))
    assert summary["labelled_now"] == 4
    assert all(0.0 < p.teacher.p_a < 1.0 and p.teacher.verdict in protocol.VERDICTS for p in load_pairs(out))
    report = evaluate_model(EvalConfig(model=str(tmp_path / "lora"), pairs=str(four_pairs), generate=2, max_new_tokens=8))
    assert report["pairs"] == 4 and report["generation"]["generated"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["hub_smolvlm", "hub_smolvlm2"])
def test_student_family_distills_exports_and_runs(fixture, request, labelled, four_pairs, synth_dir, tmp_path):
    from creative4u_small.distill.evaluate.eval_config import EvalConfig
    from creative4u_small.distill.evaluate.evaluate import evaluate_model
    from creative4u_small.distill.student.distill_config import DistillConfig
    from creative4u_small.distill.student.distill_trainer import distill
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export
    from creative4u_small.runtime import Selector

    student = tmp_path / "student"
    report = distill(DistillConfig(model=str(request.getfixturevalue(fixture)), data=str(labelled), out=str(student),
                                   max_steps=2, batch_size=2, save_steps=0))
    assert report["steps"] == 2 and report["frames"]["one_frame_per_creative"]
    saved = json.loads((student / "processor_config.json").read_text())["image_processor"]
    assert saved["do_image_splitting"] is False  # export needs no hand edit
    assert evaluate_model(EvalConfig(model=str(student), pairs=str(labelled)))["pairs"] == 4
    export = tmp_path / "export"
    run_export(ExportConfig(model=student, out=export, int8=True, calib=four_pairs, calib_pairs=4))
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["parity"]["fp32"]["max_abs_dlogit"] <= 1e-4
    assert {"fp32", "int8"} <= set(manifest["parity"])
    images = sorted((synth_dir / "img").glob("*.png"))[:4]
    selector = Selector.load(export, backend="cpu")
    result = selector.compare(images[0], images[1], query="red mug", title="Mug")
    assert result.winner in protocol.VERDICTS and len(result.p_a_orders) == 2
    ranked = selector.rank(images, query="red mug", top_k=2)
    assert len(ranked.order) == 2 and len(set(ranked.order)) == 2


@pytest.mark.parametrize("fixture", ["hub_qwen25vl", "hub_qwen3vl"])
def test_a_teacher_only_family_is_refused_as_a_student_in_one_line(fixture, request, labelled, tmp_path):
    from creative4u_small.distill.student.distill_config import DistillConfig
    from creative4u_small.distill.student.distill_trainer import distill
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    hub = request.getfixturevalue(fixture)
    for run in (lambda: distill(DistillConfig(model=str(hub), data=str(labelled), out=str(tmp_path / "s"), max_steps=1)),
                lambda: run_export(ExportConfig(model=hub, out=tmp_path / "e"))):
        with pytest.raises(ValueError) as e:
            run()
        assert "cannot be a student" in str(e.value) and "smolvlm" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "s").exists() and not (tmp_path / "e").exists()
