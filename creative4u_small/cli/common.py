"""Shared CLI plumbing: one-line errors, progress bars, JSON output."""

from __future__ import annotations

import functools
import json
import os
import sys

import typer

from creative4u_small.cli.progress_lines import LineProgress

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, PermissionError, KeyError, RuntimeError, ImportError, OSError)


def fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def friendly_errors(fn):
    """Turn a user-facing exception into one red line and a non-zero exit, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            fail("interrupted; rerun the same command to resume where it can", 130)
        except USER_ERRORS as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            fail(msg)

    return wrapper


def say(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.CYAN)


def emit_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def emit_once(data) -> None:
    """``emit_json`` from the main process only (``accelerate launch`` and torchrun run several)."""
    if int(os.environ.get("RANK", "0")) == 0:
        emit_json(data)


def progress_bar(description: str, total: int | None = None, stream=None, unit: str | None = None):
    """Progress on stderr (stdout stays clean JSON); returns (context, update(done, total, what=None)).

    On a terminal a rich bar (with the rate in ``unit``/s when a unit is given). Elsewhere (stderr to a file, CI,
    nohup, a job scheduler) rich draws nothing until the end, so a plain line goes out about every tenth of the work
    instead, with its rate and ETA. ``what`` renames the task: a new phase, with its own count and rate.
    """
    # rich loads when a command reports progress, not for `c4u --help`
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(file=stream if stream is not None else sys.stderr)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *_rate_column(unit), TimeElapsedColumn(),
               TimeRemainingColumn())
    progress = Progress(*columns, console=console) if console.is_terminal else LineProgress(console.file, *columns)
    task = progress.add_task(description, total=total)

    def update(done: int, total_: int | None = None, what: str | None = None) -> None:
        progress.update(task, completed=done, total=total_ if total_ is not None else total,
                        **({"description": what} if what else {}))

    return progress, update


def _rate_column(unit: str | None) -> tuple:
    """A rich column showing the task's rate in ``unit``/s (none without a unit)."""
    if unit is None:
        return ()
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} {unit}/s" if speed else f"- {unit}/s", style="progress.data.speed")

    return (Rate(),)


def with_progress(description: str, fn, *args, **kwargs):
    """``fn(*args, progress=update, **kwargs)`` under a progress bar named ``description``; returns its result."""
    progress, update = progress_bar(description)
    with progress:
        return fn(*args, progress=update, **kwargs)
