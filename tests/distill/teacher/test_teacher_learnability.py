"""Learnability of the teacher on synthetic data (slow: about 13 minutes on 2 CPU cores).

Runs the benchmark of benchmarks/teacher_learnability.py: the `small` preset trained by `c4u teacher sft` on
2,000 synthetic pairs must beat 80% held-out accuracy on 300 pairs, and a few GRPO steps must not
lower it (one pair of slack out of 300 for sampling noise in the rollouts that shape the update).
"""

from __future__ import annotations

import pytest

from creative4u_small.bench.teacher_learnability import TeacherLearnabilityConfig, teacher_learnability


@pytest.mark.slow
def test_small_teacher_learns_the_synthetic_task(tmp_path):
    result = teacher_learnability(TeacherLearnabilityConfig(work=tmp_path, train=2000, heldout=300, preset="small", epochs=4, batch_size=16,
                                                            lr=5e-4, decision_weight=10.0, grpo_steps=4, grpo_lr=1e-6))
    assert result["eval_after_sft"]["n"] == 300
    assert result["accuracy_after_sft"] > 0.80, result
    assert result["accuracy_after_grpo"] >= result["accuracy_after_sft"] - 1 / 300, result
