"""`c4u label --engine ray`: two Ray actors, each holding one tiny teacher, give the labels one process gives with the
same seeds, in the same resumable file format."""

from __future__ import annotations

import dataclasses
import json

import pytest

from creative4u_small.contract.pairs import load_pairs
from creative4u_small.distill.label.label import label_pairs
from creative4u_small.distill.label.label_config import LabelConfig


def test_two_ray_workers_label_as_one_process_does(ray_cluster, tiny_model_dir, pairs_subset, tmp_path):
    pairs = pairs_subset(6)
    local = LabelConfig(teacher=str(tiny_model_dir), pairs=str(pairs), out=str(tmp_path / "local.jsonl"), k=2, max_new_tokens=6,
                        batch_size=2, seed=3)
    on_ray = dataclasses.replace(local, out=str(tmp_path / "ray.jsonl"), engine="ray", workers=2, ray_address=ray_cluster)
    label_pairs(local)
    summary = label_pairs(on_ray)
    assert summary["labelled_now"] == 6 and summary["retried"] == 0 and summary["engine"] == "ray"
    assert sum(w["pairs"] for w in summary["workers"]) == 6
    mine = {r["id"]: r for r in map(json.loads, (tmp_path / "local.jsonl").read_text().splitlines())}
    theirs = {r["id"]: r for r in map(json.loads, (tmp_path / "ray.jsonl").read_text().splitlines())}
    assert sorted(theirs) == sorted(mine)
    for pid, rec in mine.items():
        assert theirs[pid]["teacher"]["verdict"] == rec["teacher"]["verdict"]
        assert theirs[pid]["teacher"]["p_a"] == pytest.approx(rec["teacher"]["p_a"], abs=1e-6)
        assert theirs[pid]["teacher"]["rationales"] == rec["teacher"]["rationales"]
        assert theirs[pid]["teacher_stats"] == rec["teacher_stats"]
        assert theirs[pid]["image_a"] == rec["image_a"]  # relative to the output's folder, as `c4u label` writes them
    assert all(p.teacher is not None for p in load_pairs(tmp_path / "ray.jsonl"))  # a valid CreativePair file
    assert label_pairs(on_ray)["already_labelled"] == 6  # resumed like a local run
