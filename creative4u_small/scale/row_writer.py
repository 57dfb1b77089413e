"""Output rows written whole and each id once, to JSONL or (by its suffix) Parquet; a rerun continues the file.

JSONL is appended with flush + fsync per write, and a rerun reads the ids back (a torn last line, left by a
killed writer, is cut). Parquet cannot be appended to: rows go to a JSONL journal beside it (``OUT.partial.jsonl``)
and ``finish`` writes the Parquet file (its old rows and the journal's, one per id) under a temporary name, renames
it into place and drops the journal; a rerun reads the ids of both. Every id is written at most once, whatever
the workers send twice (a batch retried after its worker died after all).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from creative4u_small.scale.resumable_jsonl import append_lines, open_resumable, read_done_ids

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path) -> bool:
    return str(path).lower().endswith(PARQUET_SUFFIXES)


def pyarrow_modules():
    """(pyarrow, pyarrow.parquet), or an ImportError that names the fix."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("Parquet needs pyarrow; pip install pyarrow (the ray extra has it)") from None
    return pyarrow, pyarrow.parquet


def provenance_path(out) -> Path:
    """Where a file output's provenance (config, versions, summary) is kept: ``OUT.c4u_provenance.json``."""
    return Path(out).with_name(Path(out).name + ".c4u_provenance.json")


def parquet_ids(out: Path, warn=print) -> set[str]:
    """Ids in a Parquet output (none when it does not exist)."""
    if not Path(out).exists():
        return set()
    _, pq = pyarrow_modules()
    try:
        return {str(i) for i in pq.read_table(out, columns=["id"]).column("id").to_pylist()}
    except Exception as e:  # noqa: BLE001 - pyarrow raises ArrowInvalid, KeyError, OSError for a foreign file
        raise ValueError(f"{out}: not a Parquet file with an id column ({str(e).splitlines()[0]}); choose another --out or pass --overwrite --no-resume") from None


class RowWriter:
    """Rows (dicts with an ``id``) to ``out``; ``ids``: the input's ids (an output holding others is another run's)."""

    def __init__(self, out, ids: set[str], source, resume: bool = True, overwrite: bool = False, warn=print,
                 what: str = "rows", schema=None):
        self.out, self.schema = Path(out), schema
        self.parquet = is_parquet(self.out)
        self.journal = self.out.with_name(self.out.name + ".partial.jsonl") if self.parquet else self.out
        if self.parquet:
            pyarrow_modules()
            self.done = open_resumable(self.out, ids, resume, overwrite, source, warn, what, done_ids=parquet_ids)
            self.done |= open_resumable(self.journal, ids, resume, overwrite, source, warn, what)
        else:
            self.done = open_resumable(self.out, ids, resume, overwrite, source, warn, what)
        self.already = len(self.done)

    def write(self, rows: list[dict]) -> int:
        """Append the rows whose id is not written yet (flushed and fsynced); returns how many were new."""
        fresh = []
        for row in rows:
            if row["id"] not in self.done:
                self.done.add(row["id"])
                fresh.append(row)
        if fresh:
            append_lines(self.journal, fresh)
        return len(fresh)

    def finish(self) -> None:
        """Parquet: the journal's rows joined to the file's, written to a temporary name and renamed into place (an
        empty file with ``schema`` when there are none)."""
        if not self.parquet or (self.out.exists() and not self.journal.exists()):
            return
        pa, pq = pyarrow_modules()
        rows = []
        if self.journal.exists():
            read_done_ids(self.journal)  # cuts a torn last line
            rows = [json.loads(line) for line in self.journal.read_text(encoding="utf-8").splitlines() if line.strip()]
        old = pq.read_table(self.out) if self.out.exists() else None
        if old is None and not rows and self.schema is None:
            self.journal.unlink(missing_ok=True)
            return
        if old is not None:
            have = set(old.column("id").to_pylist())
            rows = [r for r in rows if r["id"] not in have]  # a crash between rename and unlink left them in both
        new = pa.Table.from_pylist(rows, schema=old.schema if old is not None else self.schema)
        table = pa.concat_tables([old, new]) if old is not None else new
        tmp = self.out.with_name(f".{self.out.name}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, self.out)
        self.journal.unlink(missing_ok=True)
