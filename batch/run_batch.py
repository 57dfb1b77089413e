"""``c4u batch``: every group of a catalog answered by the engine chosen, written whole, once, resumably.

The driver reads the groups file, skips the ids the output already holds, hands the rest to the engine and writes
what comes back as it comes (rows to ``--out``, refusals to ``OUT.rejects.jsonl``), one writer for each. An
interrupted driver (SIGINT, SIGTERM, or kill -9) leaves complete rows only, and a rerun continues from them;
rows the last run refused are tried again. The summary (also in ``OUT.c4u_provenance.json``) says what was done,
refused and retried, each worker's rate and node.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from pathlib import Path

from creative4u_small.batch.batch_config import BatchConfig
from creative4u_small.batch.group_scorer import output_schema
from creative4u_small.batch.groups import read_groups
from creative4u_small.batch.local_engine import run_local
from creative4u_small.batch.ray_engine import run_ray
from creative4u_small.contract.artifacts import versions, write_json_atomic
from creative4u_small.runtime import manifest as mf
from creative4u_small.scale.job_tally import JobTally, sigterm_interrupts
from creative4u_small.scale.row_writer import RowWriter, is_parquet, provenance_path


def run_batch(config: BatchConfig, progress=None, warn=print) -> dict:
    """Answer every group of ``config.groups`` not yet in ``config.out``; returns the summary.
    ``progress(finished, total)`` runs after each batch is on disk."""
    if not config.groups or not config.out:
        raise ValueError("--groups and --out are both needed")
    started = time.perf_counter()
    mf.read_manifest(Path(config.export), verify_hashes=False)  # a wrong export is one error, before any worker starts
    groups, refused = read_groups(config.groups)
    ids = {g["id"] for g in groups} | {r["id"] for r in refused}
    rows = RowWriter(config.out, ids, config.groups, config.resume, config.overwrite, warn, "rows",
                     schema=output_schema() if is_parquet(config.out) else None)
    rejects = RowWriter(config.rejects_path, ids, config.groups, resume=False, overwrite=True, warn=warn, what="rejects")
    tally = JobTally(rows, rejects, len(ids), "groups", progress)
    tally.refuse([r for r in refused if r["id"] not in rows.done])
    todo = [g for g in groups if g["id"] not in rows.done]
    cluster = None
    with sigterm_interrupts():
        try:
            if config.engine == "ray" and todo:
                retried, cluster = run_ray(config, todo, tally.add, warn)
            else:
                retried = run_local(config, todo, tally.add)
        finally:
            rows.finish()
    summary = {**tally.summary(time.perf_counter() - started, len(retried)), "engine": config.engine,
               **({"cluster": cluster} if cluster else {}), "out": str(config.out), "rejects": str(config.rejects_path)}
    write_json_atomic(provenance_path(config.out), {
        "stage": "batch", "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "command": sys.argv,
        "config": config.to_dict(), "versions": versions(), "results": summary})
    return summary
