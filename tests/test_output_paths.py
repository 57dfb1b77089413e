"""Every stage writes image paths relative to the file it writes, so its output reads the same from any folder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from creative4u_small.contract.pairs import CreativePair, load_pairs


def _images(path: Path) -> list[str]:
    return [v for line in path.read_text().splitlines() for k, v in json.loads(line).items() if k in ("image_a", "image_b")]


def test_relative_to_the_written_file_even_outside_it(tmp_path):
    image = tmp_path / "data" / "img" / "a.png"
    pair = CreativePair("p", image, image)
    assert pair.to_json(tmp_path / "data")["image_a"] == "img/a.png"
    assert pair.to_json(tmp_path / "labels" / "run1")["image_a"] == "../../data/img/a.png"


def test_each_stage_output_in_a_sibling_folder_feeds_the_next(tiny_model_dir, tmp_path, monkeypatch):
    """synth -> CTR pairs -> label -> distill, each writing into its own folder beside the others, run from
    elsewhere each time: the images are found at every step."""
    from creative4u_small.cli import app

    runner = CliRunner()

    def c4u(cwd: Path, *args):
        cwd.mkdir(parents=True, exist_ok=True)
        monkeypatch.chdir(cwd)
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, f"{args}\n{result.output[-2000:]}"

    c4u(tmp_path, "data", "synth", "--n", "3", "--out", "in/synth", "--seed", "3", "--image-size", "32")
    synth = load_pairs(tmp_path / "in" / "synth" / "pairs.jsonl")
    rows = [{"product_id": p.id, "query": p.query, "title": p.title, "image": f"../in/synth/{Path(img).relative_to(tmp_path / 'in' / 'synth')}",
             "impressions": 5000, "clicks": clicks} for p in synth for img, clicks in ((p.image_a, 150), (p.image_b, 50))]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "ctr.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    c4u(tmp_path / "work", "data", "pairs", "--from-ctr", "../logs/ctr.jsonl", "--out", "../pairs/pairs.jsonl")
    assert all(p.startswith("../in/synth/img/") for p in _images(tmp_path / "pairs" / "pairs.jsonl"))
    c4u(tmp_path, "label", "--teacher", tiny_model_dir, "--pairs", "pairs/pairs.jsonl", "--out", "out/labelled.jsonl", "--k", "1",
        "--max-new-tokens", "4")
    labelled = tmp_path / "out" / "labelled.jsonl"
    assert all(p.startswith("../in/synth/img/") for p in _images(labelled))
    c4u(tmp_path / "elsewhere", "distill", "--student", tiny_model_dir, "--labels", labelled, "--out", tmp_path / "student",
        "--max-steps", "1", "--save-steps", "0")
    assert (tmp_path / "student" / "model.safetensors").is_file()
    resolved = {img.resolve() for p in load_pairs(labelled) for img in (p.image_a, p.image_b)}
    assert resolved == {img.resolve() for p in synth for img in (p.image_a, p.image_b)}
