"""CreativePairs from impression/click logs, built the way the CreativePair dataset was.

Two creatives form a pair when they show the same product for the same query, both have at
least ``min_impressions`` impressions, and their relative CTR gap ``(hi - lo) / lo`` is at
least ``min_gap``; the label is the creative with the higher CTR.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.pairs import CreativePair, write_pairs

REQUIRED = ("product_id", "query", "image", "impressions", "clicks")


@dataclass
class _Creative:
    image: Path
    title: str = ""
    impressions: int = 0
    clicks: int = 0

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0


def read_log(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) from a JSONL or CSV log; a bad row raises ValueError naming its line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CTR log not found: {path}")
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        if path.suffix.lower() == ".csv":
            for i, row in enumerate(csv.DictReader(fh), 2):
                rows.append((i, row))
        else:
            for i, text in enumerate(fh, 1):
                if not text.strip():
                    continue
                try:
                    rows.append((i, json.loads(text)))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{i}: not valid JSON ({e.msg}); fix or remove the line") from None
    for i, row in rows:
        missing = [k for k in REQUIRED if row.get(k) in (None, "")]
        if missing:
            raise ValueError(f"{path}:{i}: missing {', '.join(missing)}; every row needs {', '.join(REQUIRED)}")
        for k in ("impressions", "clicks"):
            try:
                v = int(float(row[k]))
            except (TypeError, ValueError):
                raise ValueError(f"{path}:{i}: {k} must be a number, got {row[k]!r}") from None
            if v < 0:
                raise ValueError(f"{path}:{i}: {k} must be non-negative, got {v}")
            row[k] = v
        if row["clicks"] > row["impressions"]:
            raise ValueError(f"{path}:{i}: clicks ({row['clicks']}) exceed impressions ({row['impressions']})")
    return rows


def relative_gap(hi: float, lo: float) -> float:
    return float("inf") if lo == 0 else (hi - lo) / lo


def pairs_from_ctr(log: Path, out: Path, min_impressions: int = 1000, min_gap: float = 0.6) -> dict:
    """Build and write the pairs; returns counts of what was kept and why the rest was not."""
    if min_impressions < 0 or min_gap < 0:
        raise ValueError("min_impressions and min_gap must be non-negative")
    log, out = Path(log), Path(out)
    groups: dict[tuple[str, str], dict[str, _Creative]] = defaultdict(dict)
    for _, row in read_log(log):
        image = Path(row["image"]) if Path(row["image"]).is_absolute() else (log.parent / row["image"])
        key = (str(row["product_id"]), " ".join(str(row["query"]).split()))
        c = groups[key].setdefault(str(image), _Creative(image, str(row.get("title") or "")))
        c.impressions += row["impressions"]
        c.clicks += row["clicks"]
    pairs, low, small = [], 0, 0
    for (product, query), creatives in sorted(groups.items()):
        for a, b in itertools.combinations(sorted(creatives.values(), key=lambda c: str(c.image)), 2):
            if min(a.impressions, b.impressions) < min_impressions:
                low += 1
                continue
            hi, lo = max(a.ctr, b.ctr), min(a.ctr, b.ctr)
            if hi == lo or relative_gap(hi, lo) < min_gap:
                small += 1
                continue
            digest = hashlib.sha1(f"{product}|{query}|{a.image}|{b.image}".encode()).hexdigest()[:10]
            pairs.append(CreativePair(
                id=f"{product}-{digest}", image_a=a.image, image_b=b.image, query=query,
                title=a.title or b.title, label="A" if a.ctr > b.ctr else "B",
                ctr_a=round(a.ctr, 6), ctr_b=round(b.ctr, 6),
                impressions_a=a.impressions, impressions_b=b.impressions,
            ))
    if not pairs:
        raise ValueError(
            f"{log}: no pair passed the filters ({low} below {min_impressions} impressions, "
            f"{small} with a CTR gap under {min_gap:.0%}); lower --min-impressions or --min-gap"
        )
    write_pairs(pairs, out)
    return {"out": str(out), "groups": len(groups), "pairs": len(pairs),
            "skipped_low_impressions": low, "skipped_small_gap": small}
