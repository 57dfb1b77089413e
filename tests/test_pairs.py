import json

import pytest
from PIL import Image

from creative4u_small.contract.pairs import PairsError, load_pairs, validate_pairs, write_pairs


@pytest.fixture()
def pair_files(tmp_path):
    img = tmp_path / "img"
    img.mkdir()
    for name, colour in (("a.png", "red"), ("b.png", "blue")):
        Image.new("RGB", (40, 30), colour).save(img / name)
    good = Image.new("RGB", (40, 30), "green")
    good.save(img / "c.jpg")
    data = (img / "c.jpg").read_bytes()
    (img / "broken.jpg").write_bytes(data[: len(data) // 2])
    return tmp_path


def line(**kw):
    rec = {"id": "p", "image_a": "img/a.png", "image_b": "img/b.png", "query": "q", "title": "t", "label": "A"}
    rec.update(kw)
    return json.dumps(rec)


def test_good_file_loads_with_paths_relative_to_the_file(pair_files):
    f = pair_files / "pairs.jsonl"
    f.write_text(line(id="1") + "\n\n" + line(id="2", label=None, teacher={"p_a": 0.8, "verdict": "A"}) + "\n")
    pairs = load_pairs(f)
    assert [p.id for p in pairs] == ["1", "2"]
    assert pairs[0].image_a == pair_files / "img/a.png"
    assert pairs[1].teacher.p_a == 0.8 and pairs[1].label is None
    assert validate_pairs(f) == (2, [])


def test_every_bad_line_is_reported_with_its_number(pair_files):
    f = pair_files / "pairs.jsonl"
    f.write_text("\n".join([
        line(id="ok"),
        line(id="missing", image_b="img/nope.png"),
        line(id="corrupt", image_a="img/broken.jpg"),
        line(id="badlabel", label="C"),
        line(id="trunc")[:25],
    ]) + "\n")
    good, problems = validate_pairs(f)
    assert good == 1
    by_line = {p.line: p for p in problems}
    assert set(by_line) == {2, 3, 4, 5}
    assert by_line[2].field == "image_b" and "not found" in by_line[2].reason
    assert by_line[3].field == "image_a" and "corrupt" in by_line[3].reason
    assert by_line[4].field == "label"
    assert by_line[5].field == "json"
    with pytest.raises(PairsError) as e:
        load_pairs(f, check_images="decode")
    assert len(e.value.problems) == 4 and ":2:" in str(e.value)


def test_duplicate_ids_and_requirements(pair_files):
    f = pair_files / "pairs.jsonl"
    f.write_text(line(id="1") + "\n" + line(id="1") + "\n")
    with pytest.raises(PairsError, match="duplicate id"):
        load_pairs(f)
    f.write_text(line(id="1", label=None) + "\n")
    with pytest.raises(PairsError, match="label or teacher"):
        load_pairs(f, require="label_or_teacher")
    f.write_text(line(id="1", teacher={"p_a": 1.5}) + "\n")
    with pytest.raises(PairsError, match="teacher.p_a"):
        load_pairs(f)


def test_write_round_trip(pair_files):
    f = pair_files / "pairs.jsonl"
    f.write_text(line(id="1", ctr_a=0.1, impressions_a=10, extra_field="kept") + "\n")
    pairs = load_pairs(f)
    out = pair_files / "copy.jsonl"
    write_pairs(pairs, out)
    rec = json.loads(out.read_text())
    assert rec["image_a"] == "img/a.png" and rec["extra_field"] == "kept" and rec["ctr_a"] == 0.1
    assert load_pairs(out)[0] == pairs[0]


def test_validate_cli_reports_all_and_fails(pair_files):
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    f = pair_files / "pairs.jsonl"
    f.write_text(line(id="ok") + "\n" + line(id="x", label="Z") + "\n{\"id\": \n")
    result = CliRunner().invoke(app, ["data", "validate", str(f)])
    assert result.exit_code != 0
    assert f"{f}:2: label" in result.output and f"{f}:3: json" in result.output
    f.write_text(line(id="ok") + "\n")
    result = CliRunner().invoke(app, ["data", "validate", str(f)])
    assert result.exit_code == 0 and "1 pairs OK" in result.output
