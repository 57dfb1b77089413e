"""The synthetic CreativePair generator: determinism, format, labels, rationales, visibility."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from creative4u_small.contract import protocol
from creative4u_small.contract.pairs import load_pairs, validate_pairs
from creative4u_small.data.synth import MIN_GAP, WEIGHTS, synthesize
from creative4u_small.data.synth.catalog import PRODUCT_COLOURS
from creative4u_small.data.synth.factors import FACTORS

N = 200


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory) -> Path:
    return synthesize(N, tmp_path_factory.mktemp("synth"), seed=3)


@pytest.fixture(scope="module")
def pairs(synth_set):
    return load_pairs(synth_set, check_images="exists", require="label")


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path):
    a = synthesize(12, tmp_path / "a", seed=7)
    b = synthesize(12, tmp_path / "b", seed=7)
    fa, fb = _files(a.parent), _files(b.parent)
    assert fa == fb and len(fa) == 1 + 2 * 12
    c = synthesize(12, tmp_path / "c", seed=8)
    assert c.read_bytes() != a.read_bytes()


def test_deterministic_across_processes(tmp_path):
    """String hashing is randomised per process; the output must not depend on it."""
    here = synthesize(4, tmp_path / "here", seed=5)
    code = "import sys; from pathlib import Path; from creative4u_small.data.synth import synthesize; synthesize(4, Path(sys.argv[1]), seed=5)"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "there")], check=True, env=env)
    assert _files(here.parent) == _files(tmp_path / "there")


def test_prefix_stable_when_n_grows(tmp_path):
    small = synthesize(4, tmp_path / "s", seed=1).read_text().splitlines()
    large = synthesize(6, tmp_path / "l", seed=1).read_text().splitlines()
    assert large[:4] == small


def test_loader_and_validator_accept_output(synth_set, pairs):
    good, problems = validate_pairs(synth_set, decode_images=True)
    assert problems == [] and good == N
    assert len(pairs) == N
    assert all(p.synthetic and p.label in ("A", "B") and p.rationale for p in pairs)
    assert all(p.query and p.title for p in pairs)
    images = [p.image_a for p in pairs] + [p.image_b for p in pairs]
    assert len(set(images)) == 2 * N and all(str(i).endswith(".png") for i in images)
    first = json.loads(synth_set.read_text().splitlines()[0])
    assert first["image_a"].startswith("img/")  # relative to the pairs file


def test_images_are_png_of_requested_size(tmp_path):
    path = synthesize(2, tmp_path, seed=0, image_size=48)
    for p in load_pairs(path):
        with Image.open(p.image_a) as im:
            assert im.format == "PNG" and im.size == (48, 48) and im.mode == "RGB"


def test_labels_balanced(pairs):
    share = sum(p.label == "A" for p in pairs) / len(pairs)
    assert share == 0.5  # exactly one A and one B per block of two pairs


def test_label_is_the_higher_score_and_ctr_winner(pairs):
    for p in pairs:
        f = p.extra["factors"]
        sa, sb = f["a"]["score"], f["b"]["score"]
        assert (sa > sb) == (p.label == "A")
        assert abs(sa - sb) >= MIN_GAP - 1e-9
        assert (p.ctr_a > p.ctr_b) == (p.label == "A")
        assert p.impressions_a >= 1000 and p.impressions_b >= 1000
        differ = [k for k in FACTORS if f["a"][k] != f["b"][k]]
        assert differ == f["differ"] and 1 <= len(differ) <= 3


def test_product_size_dominates(pairs):
    others = sorted((w for k, w in WEIGHTS.items() if k != "large_product"), reverse=True)
    assert WEIGHTS["large_product"] > others[0] + others[1]
    sized = [p for p in pairs if "large_product" in p.extra["factors"]["differ"]]
    assert 0.6 <= len(sized) / len(pairs) <= 0.8
    for p in sized:
        assert (p.extra["factors"]["a"]["large_product"] == 1) == (p.label == "A")
    # the text-only factors weigh little
    assert WEIGHTS["colour_match"] + WEIGHTS["category_match"] < WEIGHTS["plain_background"]


def test_rationales_parse_and_match_label(pairs):
    for p in pairs:
        parsed = protocol.parse_teacher(p.rationale)
        assert not isinstance(parsed, protocol.ParseError), parsed
        assert parsed.verdict == p.label and parsed.answers["Q10"] == p.label
        assert protocol.protocol_errors(parsed.answers) == []
        assert parsed.answers["Q1"] == "no" and parsed.answers["Q2"] == "no"
        assert f"Creative {p.label} is more likely to be clicked" in parsed.reasoning
        swapped = protocol.parse_teacher(protocol.swap_teacher_completion(p.rationale))
        assert swapped.verdict == protocol.flip_verdict(p.label)
        assert swapped.reasoning == protocol.swap_reasoning(parsed.reasoning)


def test_protocol_answers_follow_factors(pairs):
    agree = 0
    for p in pairs:
        answers = protocol.parse_teacher(p.rationale).answers
        fa, fb = p.extra["factors"]["a"], p.extra["factors"]["b"]
        expect = {"Q8": "large_product", "Q9": "plain_background", "Q7": "centred", "Q6": "uncluttered", "Q4": "category_match"}
        for q, k in expect.items():
            assert answers[q] == protocol.COMPARISONS[[1, 0, -1].index(int(np.sign(fa[k] - fb[k])))]
        agree += protocol.protocol_balance(answers) == p.label
    assert agree / len(pairs) >= 0.8


def _product_fraction(path: Path, colour: str, px: int | None = None) -> float:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if px:
            im = im.resize((px, px), Image.Resampling.BICUBIC)
        a = np.asarray(im, dtype=np.float64)
    return float((np.linalg.norm(a - np.array(PRODUCT_COLOURS[colour]), axis=-1) < 60).mean())


@pytest.mark.parametrize("px", [None, 64, 32])
def test_dominant_factor_is_visible(pairs, px):
    """The share of product-coloured pixels points to the label (96 px, and at 64/32 px)."""
    hits, sized_hits, sized = 0, 0, 0
    for p in pairs:
        f = p.extra["factors"]
        fa = _product_fraction(p.image_a, f["a"]["render"]["colour"], px)
        fb = _product_fraction(p.image_b, f["b"]["render"]["colour"], px)
        ok = (fa > fb) == (p.label == "A")
        hits += ok
        if "large_product" in f["differ"]:
            sized += 1
            sized_hits += ok
    assert sized_hits / sized >= 0.95
    assert hits / len(pairs) >= 0.75


def test_progress_reported(tmp_path):
    calls = []
    synthesize(5, tmp_path, seed=0, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (5, 5) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        synthesize(0, tmp_path)
    with pytest.raises(ValueError):
        synthesize(2, tmp_path, image_size=8)


def test_reasoning_reads_back_to_the_protocol_lines_and_the_truth(pairs):
    from creative4u_small.data.synth.rationale import implied_answers, read_reasoning, truth_answers

    for p in pairs:
        parsed = protocol.parse_teacher(p.rationale)
        reading = read_reasoning(parsed.reasoning)
        assert reading.unknown == () and reading.conflicts == () and reading.conclusion == p.label
        fa, fb = p.extra["factors"]["a"], p.extra["factors"]["b"]
        assert reading.diffs == {f: 1 if fa[f] > fb[f] else -1 for f in FACTORS if fa[f] != fb[f]}
        assert implied_answers(reading.diffs) == {k: parsed.answers[k] for k in protocol.COMPARISON_KEYS}
        assert truth_answers(p.extra, p.label) == parsed.answers
    assert truth_answers({}, "A") is None and truth_answers(pairs[0].extra, None) is None


def test_read_reasoning_flags_what_the_templates_do_not_say():
    from creative4u_small.data.synth.rationale import read_reasoning

    r = read_reasoning("Creative A has a plain background; the busy pattern behind Creative A competes with the product. "
                       "The colours are nice. On balance Creative B is more likely to be clicked.")
    assert r.conflicts and r.unknown == ("The colours are nice.",) and r.conclusion == "B" and r.diffs == {}
    r = read_reasoning("Creative B centres the product; Creative A pushes it off the edge. "
                       "Creative A centres the product; Creative B pushes it off the edge.")
    assert r.diffs == {"centred": 1} and len(r.conflicts) == 1 and r.conclusion is None
