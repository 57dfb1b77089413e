"""The workload a benchmark measures on: a pairs file, or synthetic creatives rendered for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from creative4u_small.bench.bench_config import BenchConfig
from creative4u_small.bench.workload import distinct_images, workload


def test_synthetic_when_no_pairs_are_given_enough_for_the_largest_batch_and_pool(tmp_path):
    items = workload(BenchConfig(export=Path("unused"), runs=2, batch_sizes=(1, 3), rank_sizes=(5,)), tmp_path, 32)
    assert len(items) == 3 and len(distinct_images(items)) >= 5 and (tmp_path / "synth" / "pairs.jsonl").is_file()
    assert all(Path(a).is_file() and Path(b).is_file() and q for a, b, q, _ in items)


def test_a_pairs_file_too_small_for_the_sizes_is_refused_naming_the_fix(pairs_subset, tmp_path):
    pairs = pairs_subset(2)
    assert len(workload(BenchConfig(export=Path("unused"), pairs=pairs, batch_sizes=(2,), rank_sizes=(4,)), tmp_path, 32)) == 2
    with pytest.raises(ValueError, match=r"pairs.jsonl: 2 pairs / 4 distinct images are too few .*give more pairs or smaller sizes"):
        workload(BenchConfig(export=Path("unused"), pairs=pairs, batch_sizes=(8,), rank_sizes=(4,)), tmp_path, 32)
