"""`c4u eval` metrics on hand-made verdicts, and an end-to-end evaluation of the tiny preset."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from creative4u_small.contract.pairs import CreativePair, TeacherLabel, load_pairs, write_pairs
from creative4u_small.contract.protocol import ParseError
from creative4u_small.distill.evaluate.eval_config import EvalConfig
from creative4u_small.distill.evaluate.evaluate import (
    evaluate_model,
    expected_calibration_error,
    generate_outputs,
    generation_metrics,
    model_format,
    parse_output,
    per_query,
    verdict_metrics,
)
from creative4u_small.modeling.scorer import Verdict


def _pair(i, label=None, teacher=None, query="q"):
    return CreativePair(id=str(i), image_a=Path("a.png"), image_b=Path("b.png"), query=query, label=label, teacher=teacher)


def _verdict(p_ab, p_ba):
    return Verdict((p_ab + p_ba) / 2, (p_ab, p_ba), ((0.0, 0.0), (0.0, 0.0)))


def test_ece_matches_hand_computation():
    # confidences 0.9 (A, right), 0.8 (B, wrong), 0.55 (A, right), 0.6 (B, right)
    p_a = [0.9, 0.2, 0.55, 0.4]
    y = ["A", "A", "A", "B"]
    # bins: [0.9,1.0): conf 0.9 acc 1 -> |1-0.9|; [0.8,0.9): 0.8 acc 0 -> 0.8; [0.5,0.6): 0.55 acc 1 -> 0.45;
    # [0.6,0.7): 0.6 acc 1 -> 0.4. Each bin holds one of four.
    assert expected_calibration_error(p_a, y) == pytest.approx((0.1 + 0.8 + 0.45 + 0.4) / 4)
    assert expected_calibration_error([0.75, 0.75], ["A", "B"]) == pytest.approx(0.25)
    assert expected_calibration_error([], []) is None
    with pytest.raises(ValueError):
        expected_calibration_error([0.5], [])


def test_verdict_metrics_accuracy_consistency_and_teacher_agreement():
    t = lambda v, p: TeacherLabel(p, v)  # noqa: E731
    pairs = [_pair(0, "A", t("A", 0.9)), _pair(1, "B", t("A", 0.6), "x"), _pair(2, None, t("B", 0.1)), _pair(3, "B")]
    verdicts = [_verdict(0.8, 0.7), _verdict(0.3, 0.6), _verdict(0.2, 0.1), _verdict(0.6, 0.7)]
    m = verdict_metrics(pairs, verdicts)
    assert m["accuracy"] == pytest.approx(2 / 3)  # pairs 0, 1 right (A, B); pair 3 wrong (p_a 0.65)
    assert m["order_consistency"] == pytest.approx(3 / 4)
    assert m["teacher"]["agreement"] == pytest.approx(2 / 3)
    assert m["teacher"]["teacher_accuracy"] == pytest.approx(1 / 2)
    assert m["teacher"]["mean_abs_p_a_gap"] == pytest.approx((0.15 + 0.15 + 0.05) / 3)
    q = per_query(pairs, verdicts)
    assert q["x"] == {"pairs": 1, "accuracy": 1.0, "order_consistency": 0.0}
    assert q["q"]["pairs"] == 3


def test_parse_output_and_generation_metrics():
    assert parse_output("<answer>B</answer>\nbecause").verdict == "B"
    assert parse_output("<think>x</think><answer>A</answer>").verdict == "A"
    assert isinstance(parse_output("A is better"), ParseError)
    pairs = [_pair(0, "A"), _pair(1, "B")]
    g = generation_metrics(pairs, [_verdict(0.9, 0.9), _verdict(0.9, 0.9)], ["<answer>A</answer> ok", "garbage"])
    assert g["parse_failure_rate"] == 0.5 and g["agreement_with_verdict_tokens"] == 1.0 and g["accuracy_of_parsed"] == 1.0


def test_evaluate_model_end_to_end(tiny_model_dir, synth_pairs_file, tmp_path):
    pairs = load_pairs(synth_pairs_file)[:6]
    labelled = tmp_path / "eval.jsonl"
    write_pairs([replace(p, teacher=TeacherLabel(0.7, "A")) if i % 2 else p for i, p in enumerate(pairs)], labelled)
    calls = []
    cfg = EvalConfig(model=str(tiny_model_dir), pairs=str(labelled), batch_size=4, generate=2, max_new_tokens=8,
                     out=str(tmp_path / "reports" / "r.json"))
    report = evaluate_model(cfg, progress=lambda *call: calls.append(call))
    assert calls == [(4, 6), (6, 6), (2, 2, "eval generate")]  # scoring batches, then the generation phase
    assert json.loads((tmp_path / "reports" / "r.json").read_text()) == json.loads(json.dumps(report))
    assert report["pairs"] == 6 and report["labelled"] == 6
    assert 0 <= report["accuracy"] <= 1 and 0 <= report["order_consistency"] <= 1 and 0 <= report["ece"] <= 1
    assert report["teacher"]["pairs"] == 3
    assert report["generation"]["generated"] == 2 and 0 <= report["generation"]["parse_failure_rate"] <= 1
    assert sum(v["pairs"] for v in report["per_query"].values()) == 6
    json.dumps(report)


def test_student_rationales_are_generated_after_the_forced_verdict(tiny_model_dir, synth_pairs_file, tmp_path):
    """As the runtime decodes: ``<answer>X</answer>`` with X from the verdict tokens, then the rationale."""
    report = evaluate_model(EvalConfig(model=str(tiny_model_dir), pairs=str(synth_pairs_file), batch_size=4, generate=3,
                                       max_new_tokens=4, format="student"))
    gen = report["generation"]
    assert gen["agreement_with_verdict_tokens"] == 1.0 and gen["parse_failure_rate"] == 0.0
    assert all(t.startswith("<answer>") and t[9:18] == "</answer>" for t in gen["examples"])
    rat = gen["rationale"]
    assert rat["format"] == "student" and rat["outputs"] == 3 and rat["strict_parse_rate"] == 0.0  # 4 tokens of a random model
    with pytest.raises(ValueError, match="one verdict per pair"):
        generate_outputs(None, None, [1, 2], fmt="student", verdicts=["A"])


def test_a_distilled_folder_and_its_checkpoints_are_read_as_a_student(tmp_path):
    student, teacher = tmp_path / "student", tmp_path / "teacher"
    (student / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    (student / "run_config.json").write_text(json.dumps({"stage": "distill"}))
    teacher.mkdir()
    (teacher / "run_config.json").write_text(json.dumps({"stage": "teacher-sft"}))
    assert model_format(student) == "student" and model_format(student / "checkpoints" / "checkpoint-2") == "student"
    assert model_format(teacher) == "teacher" and model_format(student, "teacher") == "teacher"


def test_eval_config_validation():
    with pytest.raises(ValueError, match="format must be one of"):
        EvalConfig(model="m", pairs="p", format="json")
    with pytest.raises(ValueError, match="generate"):
        EvalConfig(model="m", pairs="p", generate=-1)
    with pytest.raises(ValueError, match="model is required"):
        EvalConfig(model="", pairs="p")
