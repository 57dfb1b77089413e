"""JSONL outputs written record by record and resumed by id (``c4u label``, ``c4u data annotate``, ``c4u batch``).

Records are appended with flush + fsync per batch; a rerun skips the ids already written, and a
truncated last line (a crash mid-write) is cut away with a warning.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_done_ids(out: Path, warn=print) -> set[str]:
    """Ids already written to ``out``; a truncated last line is removed (with a warning)."""
    out = Path(out)
    if not out.exists():
        return set()
    data = out.read_bytes()
    done, good_end, pos = set(), 0, 0
    for lineno, raw in enumerate(data.splitlines(keepends=True), 1):
        pos += len(raw)
        if not raw.strip():
            good_end = pos
            continue
        try:
            rec = json.loads(raw)
            complete = raw.endswith(b"\n")
        except json.JSONDecodeError:
            rec, complete = None, False
        if rec is None or not complete:
            if pos != len(data):
                raise ValueError(f"{out}: line {lineno} is not valid JSON and is not the last line; fix or remove it")
            break
        done.add(str(rec.get("id")))
        good_end = pos
    if good_end < len(data):
        warn(f"warning: {out}: dropping a truncated last line ({len(data) - good_end} bytes) left by an interrupted run")
        with open(out, "r+b") as fh:
            fh.truncate(good_end)
    return done


def append_lines(out: Path, rows: list[dict]) -> None:
    """One JSON line per row, flushed and fsynced so a crash loses at most the line being written."""
    with open(out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
        os.fsync(fh.fileno())


def prepare_output(config, pairs, warn, what: str) -> set[str]:
    """``open_resumable`` for a stage config with ``out``, ``resume``, ``overwrite`` and ``pairs`` (its input)."""
    return open_resumable(Path(config.out), {p.id for p in pairs}, config.resume, config.overwrite, config.pairs, warn, what)


def open_resumable(out: Path, ids: set[str], resume: bool, overwrite: bool, source, warn, what: str,
                   done_ids=read_done_ids) -> set[str]:
    """Open ``out`` for appending (``overwrite`` empties it, ``resume`` continues it); returns the ids done.

    Ids in the file that the input (``ids``, read from ``source``) lacks mean it belongs to another run, which is
    refused. ``done_ids(out, warn)`` reads the ids already written (a JSONL file's, by default).
    """
    out = Path(out)
    if out.exists() and out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file path")
    if overwrite and out.exists():
        out.unlink()
    if out.exists() and out.stat().st_size and not resume:
        raise FileExistsError(f"{out} already holds {what}; rerun with --resume (the default) to continue it, or --overwrite to start over")
    done = done_ids(out, warn)
    stray = done - ids
    if stray:
        raise ValueError(f"{out} holds {len(stray)} id(s) not in {source} (e.g. {sorted(stray)[0]!r}); it belongs to another run: choose another --out or pass --overwrite --no-resume")
    out.parent.mkdir(parents=True, exist_ok=True)
    return done


def in_batches(todo: list, batch_size: int, done: int, total: int, progress=None):
    """``todo`` in slices of ``batch_size``; after each slice is handled, ``progress(done so far, total)``."""
    for i in range(0, len(todo), batch_size):
        yield todo[i: i + batch_size]
        if progress is not None:
            progress(done + min(i + batch_size, len(todo)), total)
