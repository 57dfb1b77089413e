"""The driver's side of a batch job: records from the workers written (rows and rejects, each id once), counted
per worker, and summed up at the end (done, rejected, retried, rate per worker, the node of each worker)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time

from creative4u_small.scale.row_writer import RowWriter


class JobTally:
    """``add(records)`` for each batch that comes back; ``summary(seconds, retried)`` at the end. ``unit`` names what
    the job counts (groups, pairs); ``progress(done, total)`` after each batch is on disk."""

    def __init__(self, rows: RowWriter, rejects: RowWriter | None, total: int, unit: str, progress=None):
        self.rows, self.rejects, self.total, self.unit, self.progress = rows, rejects, total, unit, progress
        self.done = self.rejected = self.duplicates = 0
        self.workers: dict[str, dict] = {}
        self.created, self.first, self.last = time.perf_counter(), None, None  # the first and last batch back

    @property
    def finished(self) -> int:
        """Items with an outcome: written before this run, written now, or rejected now."""
        return self.rows.already + self.done + self.rejected

    def refuse(self, rejects: list[dict]) -> None:
        """Rejects the driver found itself (a row's fields), no worker involved."""
        self.rejected += self.rejects.write(rejects)

    def add(self, records: list[dict]) -> None:
        self.last = time.perf_counter()
        if self.first is None:
            self.first, self.first_count = self.last, len(records)
        rows = [r["data"] for r in records if r["kind"] == "row"]
        refused = [r["data"] for r in records if r["kind"] == "reject"]
        fresh = self.rows.write(rows)
        fresh_rejects = self.rejects.write(refused) if self.rejects is not None else 0
        self.done += fresh
        self.rejected += fresh_rejects
        self.duplicates += len(rows) + len(refused) - fresh - fresh_rejects
        for r in records:
            w = r["worker"]
            entry = self.workers.setdefault(f"{w['pid']}@{w['node']}", {
                "worker": f"{w['pid']}@{w['node']}", "node": w["node"], "host": w["host"], "pid": w["pid"],
                **({"node_ip": w["node_ip"]} if "node_ip" in w else {}), self.unit: 0, "busy_s": 0.0,
                "torch_loaded": False})
            entry[self.unit] += 1
            entry["busy_s"] += r["seconds"]
            entry["torch_loaded"] |= bool(w.get("torch_loaded"))
        if self.progress is not None:
            self.progress(self.finished, self.total)

    def summary(self, seconds: float, retried: int) -> dict:
        """Counts; rates over the whole job and once the first batch was back (``steady``: no start-up in it);
        per worker its items, the seconds it spent on them and its rate over those seconds."""
        rate = f"{self.unit}_per_s"
        workers = [{**w, "busy_s": round(w["busy_s"], 3), rate: round(w[self.unit] / w["busy_s"], 3) if w["busy_s"] else None}
                   for w in self.workers.values()]
        later = sum(w[self.unit] for w in self.workers.values()) - (self.first_count if self.first else 0)
        steady = later / (self.last - self.first) if self.first is not None and self.last > self.first else None
        return {self.unit: self.total, "already_done": self.rows.already, "done": self.done, "rejected": self.rejected,
                "retried": retried, "duplicates_dropped": self.duplicates, "seconds": round(seconds, 3),
                "first_batch_s": round(self.first - self.created, 3) if self.first is not None else None,
                rate: round((self.done + self.rejected) / seconds, 3) if seconds > 0 else None,
                f"steady_{rate}": round(steady, 3) if steady else None,
                "nodes": sorted({w["node"] for w in workers}), "workers": workers}


@contextlib.contextmanager
def sigterm_interrupts():
    """While the block runs in the main thread, SIGTERM raises KeyboardInterrupt as SIGINT does: a job stopped by a
    scheduler closes its output and its Ray the way one stopped by Ctrl-C does, and a rerun continues it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
