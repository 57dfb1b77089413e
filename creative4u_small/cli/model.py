"""`c4u model`: offline model presets."""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, say
from creative4u_small.modeling.model_init import init_model
from creative4u_small.modeling.presets import PRESETS

app = typer.Typer(help="Model presets built from config (no download).", no_args_is_help=True)


@app.command("init")
@friendly_errors
def init(
    preset: str = typer.Option(..., "--preset", help=f"One of: {', '.join(PRESETS)}."),
    out: Path = typer.Option(..., "--out", help="Output folder (Hugging Face format)."),
    seed: int = typer.Option(0, "--seed", help="Initialisation seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
):
    """Write a random-initialised Idefics3 (SmolVLM architecture) model, processor and tokenizer.

    Example: c4u model init --preset tiny --out models/tiny
    """

    say(f"building preset {preset} into {out}")
    emit_json(init_model(preset, out, seed=seed, overwrite=overwrite))
