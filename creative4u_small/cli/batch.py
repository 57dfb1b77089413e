"""`c4u batch`: many groups of creatives ranked (pairs compared) by the torch-free runtime, here or on Ray."""

from __future__ import annotations

import typer

from creative4u_small.batch.batch_config import BatchConfig
from creative4u_small.batch.run_batch import run_batch
from creative4u_small.cli.common import emit_json, friendly_errors, progress_bar, say
from creative4u_small.cli.config_options import from_config


@friendly_errors
@from_config(BatchConfig, ("export", "groups", "out", "engine", "workers", "selector.threads", "ray_address", "gpus_per_worker",
                           "cpus_per_worker", "groups_per_batch", "max_retries", "explain", "max_image_mb", "resume", "overwrite",
                           "selector.backend", "selector.precision", "selector.device", "selector.max_pixels", "selector.strict_text",
                           "selector.max_new_tokens", "selector.round_robin_max", "selector.screen_one_order",
                           "selector.cache_images"), required=("export", "groups", "out"))
def batch(cfg: BatchConfig):
    """Rank every group of creatives in a catalog (pairs get winner and p_a): exact, resumable, on N processes or Ray.

    Example: c4u batch --export exports/student --groups groups.jsonl --out ranked.parquet --workers 2 --threads 1
    On a Ray cluster: c4u batch ... --engine ray --ray-address HEAD:6379 --workers 20 --threads 2 (docs/scale-out.md)
    """
    where = f"Ray at {cfg.ray_address}" if cfg.ray_address else "a local Ray" if cfg.engine == "ray" else "this machine"
    say(f"batch: {cfg.groups} -> {cfg.out} with {cfg.workers} worker(s) on {where}")
    progress, update = progress_bar("batch", unit="groups")
    with progress:
        summary = run_batch(cfg, progress=update, warn=say)
    emit_json(summary)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
