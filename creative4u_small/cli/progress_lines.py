"""Plain progress lines for where no terminal is: rich's bar draws only on a terminal.

``LineProgress`` is a rich ``Progress`` (commands drive it as they drive the bar) that writes one
line each time a task crosses another tenth of its total: done/total, rate and ETA of the
current phase (a new description starts one). Without a total, a line at most every 30 s.
"""

from __future__ import annotations

import io
import time

from rich.console import Console
from rich.progress import Progress

UNKNOWN_TOTAL_EVERY_S = 30.0


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def progress_line(what: str, done: float, total: float | None, rate: float | None, elapsed: float) -> str:
    """``what: done/total (pct%), rate/s, elapsed, ETA`` (the parts that are known)."""
    parts = [f"{what}: {done:g}" + (f"/{total:g} ({100 * done / total:.0f}%)" if total else "")]
    if rate:
        parts.append(f"{rate:.1f}/s" if rate >= 1 else f"{1 / rate:.1f}s each")
    parts.append(f"elapsed {duration(elapsed)}")
    if rate and total and done < total:
        parts.append(f"ETA {duration((total - done) / rate)}")
    return ", ".join(parts)


class LineProgress(Progress):
    """Progress that reports each task in plain lines to ``stream``; rich's own output goes nowhere."""

    def __init__(self, stream, *columns, **kwargs):
        super().__init__(*columns, console=Console(file=io.StringIO()), **kwargs)
        self.stream = stream
        self._phases: dict = {}

    def update(self, task_id, **kwargs) -> None:
        super().update(task_id, **kwargs)
        task = next(t for t in self.tasks if t.id == task_id)
        self._report(task, time.monotonic())

    def _report(self, task, now: float) -> None:
        phase = self._phases.get(task.id)
        if phase is None or phase["what"] != task.description:
            # the rate counts from the first update of a phase: loading before it is not work done
            self._phases[task.id] = {"what": task.description, "start": now, "done0": task.completed, "tenth": -1, "last": now}
            phase = self._phases[task.id]
        done, total = task.completed, task.total
        if total:
            tenth = int(10 * min(done, total) / total)
            if tenth <= phase["tenth"]:
                return
            phase["tenth"] = tenth
        elif now - phase["last"] < UNKNOWN_TOTAL_EVERY_S and done != phase["done0"]:
            return
        phase["last"] = now
        elapsed = now - phase["start"]
        rate = (done - phase["done0"]) / elapsed if elapsed > 0 and done > phase["done0"] else None
        self.stream.write(progress_line(task.description, done, total, rate, elapsed) + "\n")
        self.stream.flush()
