import json

import pytest

from creative4u_small.contract.pairs import load_pairs
from creative4u_small.data.ctr_pairs import pairs_from_ctr


def write_log(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def row(product, query, image, impressions, clicks, title="Shoe"):
    return dict(product_id=product, query=query, image=image, impressions=impressions, clicks=clicks, title=title)


def test_pairs_follow_floor_and_gap(tmp_path):
    for name in ("a.png", "b.png", "c.png", "d.png"):
        (tmp_path / name).write_bytes(b"x")
    log = tmp_path / "log.jsonl"
    write_log(log, [
        row("p1", "trail shoe", "a.png", 2000, 60),   # ctr 0.03
        row("p1", "trail shoe", "b.png", 1500, 15),   # ctr 0.01: gap 200% -> pair, label A
        row("p1", "trail shoe", "c.png", 500, 50),    # below the floor
        row("p1", "trail shoe", "d.png", 1000, 25),   # ctr 0.025 vs a: gap 20% -> no pair; vs b: 150% -> pair
        row("p2", "bag", "a.png", 5000, 50),          # alone in its group
        row("p1", "other query", "b.png", 5000, 50),
    ])
    out = tmp_path / "pairs.jsonl"
    summary = pairs_from_ctr(log, out, min_impressions=1000, min_gap=0.6)
    assert summary["pairs"] == 2 and summary["skipped_low_impressions"] == 3 and summary["skipped_small_gap"] == 1
    pairs = load_pairs(out)
    labels = {(p.image_a.name, p.image_b.name): p.label for p in pairs}
    assert labels == {("a.png", "b.png"): "A", ("b.png", "d.png"): "B"}


def test_bad_log_rows_name_the_line(tmp_path):
    log = tmp_path / "log.jsonl"
    write_log(log, [row("p1", "q", "a.png", 10, 1), {"product_id": "p1", "query": "q"}])
    with pytest.raises(ValueError, match=r"log.jsonl:2: missing image"):
        pairs_from_ctr(log, tmp_path / "o.jsonl")
    write_log(log, [row("p1", "q", "a.png", 10, 20)])
    with pytest.raises(ValueError, match="exceed impressions"):
        pairs_from_ctr(log, tmp_path / "o.jsonl")


def test_nothing_passing_is_an_error_and_writes_nothing(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("product_id,query,image,impressions,clicks\np,q,a.png,10,1\np,q,b.png,10,2\n")
    out = tmp_path / "o.jsonl"
    with pytest.raises(ValueError, match="no pair passed"):
        pairs_from_ctr(log, out)
    assert not out.exists()
