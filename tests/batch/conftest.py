"""Groups of synthetic creatives (pairs and pools of 3-6) and the single-process answers every engine must give."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from batch_cases import reference_answers


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


@pytest.fixture(scope="session")
def reference(tiny_selector, groups_file):
    return reference_answers(tiny_selector, groups_file)


@pytest.fixture(scope="session")
def reference_explained(tiny_selector, groups_file):
    return reference_answers(tiny_selector, groups_file, explain=True)
