"""`c4u model`: offline model presets."""

from __future__ import annotations

import typer

from creative4u_small.cli.common import emit_json, friendly_errors, say
from creative4u_small.cli.config_options import fields_of, from_config
from creative4u_small.modeling.init_config import ModelInitConfig
from creative4u_small.modeling.model_init import init_model

app = typer.Typer(help="Model presets built from config (no download).", no_args_is_help=True)


@app.command("init")
@friendly_errors
@from_config(ModelInitConfig, fields_of(ModelInitConfig))
def init(cfg: ModelInitConfig):
    """Write a random-initialised Idefics3 (SmolVLM architecture) model, processor and tokenizer.

    Example: c4u model init --preset tiny --out models/tiny
    """

    say(f"building preset {cfg.preset} into {cfg.out}")
    emit_json(init_model(cfg.preset, cfg.out, seed=cfg.seed, overwrite=cfg.overwrite))
