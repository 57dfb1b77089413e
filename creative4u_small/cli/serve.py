"""`c4u serve`: the selector as an HTTP service (FastAPI + uvicorn; `pip install creative4u-small[serve]`)."""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.cli.common import friendly_errors, option
from creative4u_small.serve.serve_config import ServeConfig



@friendly_errors
def serve(
    export: Path = option(ServeConfig, "export", "--export", required=True),
    host: str = option(ServeConfig, "host", "--host"),
    port: int = option(ServeConfig, "port", "--port"),
    backend: str = option(ServeConfig, "backend", "--backend"),
    precision: str = option(ServeConfig, "precision", "--precision"),
    threads: int = option(ServeConfig, "threads", "--threads"),
    max_batch: int = option(ServeConfig, "max_batch", "--max-batch"),
    max_wait_ms: float = option(ServeConfig, "max_wait_ms", "--max-wait-ms"),
    max_queue: int = option(ServeConfig, "max_queue", "--max-queue"),
    max_body_mb: float = option(ServeConfig, "max_body_mb", "--max-body-mb"),
    max_pixels: int = option(ServeConfig, "max_pixels", "--max-pixels"),
    max_rank_images: int = option(ServeConfig, "max_rank_images", "--max-rank-images"),
    cache_images: int = option(ServeConfig, "cache_images", "--cache-images"),
    api_key_env: str = option(ServeConfig, "api_key_env", "--api-key-env"),
    retry_after_s: int = option(ServeConfig, "retry_after_s", "--retry-after"),
    graceful_timeout_s: float = option(ServeConfig, "graceful_timeout_s", "--graceful-timeout"),
    log_level: str = option(ServeConfig, "log_level", "--log-level"),
):
    """Serve compare/rank over HTTP: /v1/compare, /v1/rank, /v1/model, /healthz, /readyz, /metrics, /docs.

    Example: C4U_TOKEN=secret c4u serve --export exports/student --port 8080 --api-key-env C4U_TOKEN
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError(f"c4u serve needs the serve extra ({e.name} is missing); pip install 'creative4u-small[serve]'") from None
    from creative4u_small.serve.server import run_server

    run_server(ServeConfig(
        export=export, host=host, port=port, backend=backend, precision=precision, threads=threads, max_batch=max_batch,
        max_wait_ms=max_wait_ms, max_queue=max_queue, max_body_mb=max_body_mb, max_pixels=max_pixels,
        max_rank_images=max_rank_images, cache_images=cache_images, api_key_env=api_key_env, retry_after_s=retry_after_s,
        graceful_timeout_s=graceful_timeout_s, log_level=log_level,
    ))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
