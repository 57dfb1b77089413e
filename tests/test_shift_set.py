"""The distribution-shift pair set: deterministic, valid pairs, and really unlike the synthetic renderer's creatives."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from creative4u_small.contract.pairs import load_pairs, validate_pairs
from creative4u_small.data.shift import ASPECTS, KINDS, synthesize_shift
from creative4u_small.data.synth import synthesize


@pytest.fixture(scope="module")
def shift_file(tmp_path_factory):
    return synthesize_shift(24, tmp_path_factory.mktemp("shift"), seed=5, image_size=96)


def _stats(paths) -> np.ndarray:
    """Per image: mean brightness, mean saturation, edge density, aspect ratio."""
    rows = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        hsv = np.asarray(im.convert("HSV"), np.float32) / 255
        grey = np.asarray(im.convert("L"), np.float32) / 255
        edges = (np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()) / 2
        rows.append((hsv[..., 2].mean(), hsv[..., 1].mean(), edges, im.width / im.height))
    return np.array(rows)


def test_same_seed_same_bytes_and_valid_pairs(shift_file, tmp_path):
    again = synthesize_shift(24, tmp_path / "again", seed=5, image_size=96)
    assert again.read_text() == shift_file.read_text()
    pairs = load_pairs(shift_file, check_images="decode")
    assert validate_pairs(shift_file) == (24, [])
    assert len(pairs) == 24 and all(p.label is None and p.synthetic for p in pairs)
    for p in pairs[:4]:
        assert (again.parent / p.image_a.relative_to(shift_file.parent)).read_bytes() == p.image_a.read_bytes()


def test_every_kind_and_several_aspect_ratios_appear(shift_file):
    pairs = load_pairs(shift_file)
    kinds = {k for p in pairs for k in p.extra["shift"].values()}
    assert kinds == set(KINDS)
    ratios = {round(r, 2) for r in _stats([p.image_a for p in pairs] + [p.image_b for p in pairs])[:, 3]}
    assert len(ratios) >= 4 and {1.0} < ratios
    allowed = {round(w / h, 2) for w, h in ASPECTS}
    assert ratios <= allowed | {round(r, 2) for r in ratios if abs(r - 1) < 0.1}


def test_creatives_sit_outside_the_synthetic_renderers_range(shift_file, tmp_path):
    """Darker, more saturated and busier images than any the renderer draws, and none of its square-only framing."""
    synth = load_pairs(synthesize(24, tmp_path / "synth", seed=5, image_size=96))
    shift = load_pairs(shift_file)
    s = _stats([p.image_a for p in synth] + [p.image_b for p in synth])
    t = _stats([p.image_a for p in shift] + [p.image_b for p in shift])
    assert (s[:, 3] == 1).all() and (t[:, 3] != 1).mean() > 0.4
    assert t[:, 0].min() < s[:, 0].min() - 0.2  # the dark creatives
    assert t[:, 1].max() > s[:, 1].max()  # the saturated ones
    assert np.percentile(t[:, 2], 90) > np.percentile(s[:, 2], 90)  # text-dense and textured ones


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n must be at least 1"):
        synthesize_shift(0, tmp_path)
    with pytest.raises(ValueError, match="at least 16 pixels"):
        synthesize_shift(2, tmp_path, image_size=8)


def test_c4u_data_synth_writes_the_shift_set(shift_file, tmp_path):
    """`c4u data synth --kind shift` renders the same pairs as ``synthesize_shift``; an unknown kind is one line naming the kinds."""
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["data", "synth", "--kind", "shift", "--n", "24", "--seed", "5", "--image-size", "96", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "pairs.jsonl").read_text() == shift_file.read_text()
    assert all((out / "img" / p.name).read_bytes() == p.read_bytes() for p in (shift_file.parent / "img").iterdir())
    bad = CliRunner().invoke(app, ["data", "synth", "--kind", "photos", "--n", "2", "--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "kind must be one of training, shift" in bad.output
