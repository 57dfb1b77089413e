"""`c4u quickstart`: the whole pipeline on synthetic data, then a report."""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.cli.common import friendly_errors, say
from creative4u_small.quickstart.pipeline import run


@friendly_errors
def quickstart(
    out: Path = typer.Option(Path("quickstart_out"), "--out", help="Folder for every output of the run."),
    fast: bool = typer.Option(False, "--fast", help="A short run (fewer pairs and steps) for a smoke test."),
):
    """Synth data → teacher SFT + GRPO → label → distill → export --int8 → rank → bench → report.html.

    Rerunning the same command skips completed stages and resumes labelling.

    Example: c4u quickstart --out quickstart_out
    """

    report = run(out, fast=fast, echo=say)
    typer.echo(f"done: open {report}")


def register(app: typer.Typer) -> None:
    app.command("quickstart")(quickstart)
