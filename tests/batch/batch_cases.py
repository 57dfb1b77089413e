"""What the batch tests share: groups as the reference sees them, the single-process answers, and the checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from creative4u_small.batch.batch_config import BatchConfig
from creative4u_small.runtime.selector_config import SelectorConfig

# every engine's workers and the in-process reference load the export with the same settings
SELECTOR = SelectorConfig(backend="cpu", threads=1, precision="fp32")
SELECTOR_INT8 = SelectorConfig(backend="cpu", threads=1, precision="int8")
FP32_TOL, INT8_TOL = 1e-6, 1e-4


def group_images(groups_file: Path) -> dict[str, dict]:
    """id -> the group as the reference sees it (absolute image paths)."""
    out = {}
    for line in groups_file.read_text().splitlines():
        row = json.loads(line)
        images = row.get("images") or [row["image_a"], row["image_b"]]
        out[row["id"]] = {**row, "images": [str((groups_file.parent / i).resolve()) for i in images]}
    return out


def reference_answers(selector, groups_file: Path, explain: bool = False) -> dict[str, dict]:
    """Each group through one in-process Selector: ``rank`` for ranking and scores, ``compare`` for a pair's winner
    and p_a, ``compare(explain=True)`` for the rationale (a pool's best against its runner-up)."""
    out = {}
    for gid, g in group_images(groups_file).items():
        imgs, q, t = g["images"], g.get("query", ""), g.get("title", "")
        r = selector.rank(imgs, query=q, title=t, top_k=g.get("top_k"))
        row = {"ranking": r.order, "scores": r.scores}
        if len(imgs) == 2:
            c = selector.compare(imgs[0], imgs[1], q, t, explain=explain)
            row.update(winner=c.winner, p_a=c.p_a, rationale=c.rationale)
        elif explain:
            best, runner_up = sorted(range(len(imgs)), key=lambda k: (-r.scores[k], k))[:2]
            row["rationale"] = selector.compare(imgs[best], imgs[runner_up], q, t, explain=True).rationale
        out[gid] = row
    return out


def read_rows(path: Path) -> list[dict]:
    if str(path).endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def assert_matches(rows: list[dict], reference: dict[str, dict], tol: float = FP32_TOL) -> None:
    """Every id once; each row's ranking and verdict equal to the reference, its scores and p_a within ``tol``."""
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "an id was written twice"
    assert set(ids) == set(reference)
    for row in rows:
        want = reference[row["id"]]
        assert row["ranking"] == want["ranking"], row["id"]
        assert max(abs(a - b) for a, b in zip(row["scores"], want["scores"])) <= tol, row["id"]
        assert len(row["scores"]) == len(want["scores"])
        if "winner" in want:
            assert row["winner"] == want["winner"] and abs(row["p_a"] - want["p_a"]) <= tol, row["id"]
        if want.get("rationale") is not None:
            assert row["rationale"] == want["rationale"], row["id"]


def c4u_without_torch(*args: str) -> list[str]:
    """`c4u batch ...` in an interpreter that reports, as it exits, whether torch was imported."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('torch imported:', 'torch' in sys.modules, file=sys.stderr))\n"
            "from creative4u_small.cli import main\n"
            "sys.argv = ['c4u', 'batch'] + sys.argv[1:]\n"
            "main()\n")
    return [sys.executable, "-c", code, *args]


def batch_config(export, groups, out, **kw) -> BatchConfig:
    return BatchConfig(export=Path(export), groups=str(groups), out=str(out), selector=kw.pop("selector", SELECTOR), **kw)
