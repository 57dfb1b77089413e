"""The simulated judge the rank benchmarks and the tournament tests use: a fixed error per pair, a known order."""

import numpy as np
import pytest

from creative4u_small.bench.simulated_judge import SimulatedJudge, SimulatedJudgeConfig, recovery


def test_simulated_judge_errs_the_same_way_on_a_pair_each_time():
    judge = SimulatedJudge(SimulatedJudgeConfig(20, noise_sd=2.0, seed=3))
    first = judge([(0, 1), (2, 3)])
    assert judge([(0, 1), (2, 3)]) == first and judge([(1, 0)])[0] == pytest.approx(1 - first[0])
    assert judge.calls == [2, 2, 1] and judge.best(3)[0] == int(np.argmax(judge.quality))
    with pytest.raises(ValueError, match="quality_sd"):
        SimulatedJudgeConfig(4, quality_sd=0)


def test_recovery_is_the_share_of_the_true_top_k_found():
    assert recovery([3, 1, 0, 2], [1, 3, 2, 0], 2) == 1.0 and recovery([3, 0, 1, 2], [1, 3, 2, 0], 2) == 0.5
