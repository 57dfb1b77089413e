"""Groups of synthetic creatives (pairs and pools of 3-6) and the single-process answers every engine must give."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from batch_cases import SELECTOR, SELECTOR_INT8, reference_answers


@pytest.fixture(scope="session")
def groups_file(synth_dir, tmp_path_factory):
    """40 groups: 20 CreativePair rows (groups of two) and 20 pools of 3-6 images, some with top_k; image paths
    relative to the file, which lives in another folder than the images."""
    folder = tmp_path_factory.mktemp("groups")
    pairs = [json.loads(line) for line in (synth_dir / "pairs.jsonl").read_text().splitlines()]
    images = sorted((synth_dir / "img").glob("*.png"))
    rel = lambda p: os.path.relpath(synth_dir / p if not Path(p).is_absolute() else p, folder)  # noqa: E731
    rng = random.Random(0)
    rows = [{"id": p["id"], "image_a": rel(p["image_a"]), "image_b": rel(p["image_b"]), "query": p["query"], "title": p["title"]}
            for p in pairs[:20]]
    for k in range(20):
        src = pairs[20 + k]
        rows.append({"id": f"pool-{k:02d}", "query": src["query"], "title": src["title"],
                     "images": [rel(p) for p in rng.sample(images, 3 + k % 4)], **({"top_k": 2} if k % 5 == 0 else {})})
    out = folder / "groups.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def _selector(export, config):
    from creative4u_small.runtime import Selector

    selector = Selector.load(export, config=config)
    assert selector.precision == config.precision, selector.describe()["probe"]  # no fallback: the precision asked for
    return selector


@pytest.fixture(scope="session")
def selector_fp32(tiny_export):
    return _selector(tiny_export, SELECTOR)


@pytest.fixture(scope="session")
def reference(selector_fp32, groups_file):
    """fp32 answers of one in-process Selector."""
    return reference_answers(selector_fp32, groups_file)


@pytest.fixture(scope="session")
def reference_explained(selector_fp32, groups_file):
    return reference_answers(selector_fp32, groups_file, explain=True)


@pytest.fixture(scope="session")
def reference_int8(tiny_export, groups_file):
    """INT8 answers of one in-process Selector (dynamic INT8 graphs: one image, one pair per call)."""
    return reference_answers(_selector(tiny_export, SELECTOR_INT8), groups_file)
