"""`c4u serve`: the selector as an HTTP service (FastAPI + uvicorn; `pip install creative4u-small[serve]`)."""

from __future__ import annotations

from pathlib import Path

import typer

from creative4u_small.cli.common import friendly_errors


def _h(name: str) -> str:
    from creative4u_small.serve.serve_config import ServeConfig

    return ServeConfig.help(name)


@friendly_errors
def serve(
    export: Path = typer.Option(..., "--export", help=_h("export")),
    host: str = typer.Option("127.0.0.1", "--host", help=_h("host")),
    port: int = typer.Option(8080, "--port", help=_h("port")),
    backend: str = typer.Option("auto", "--backend", help=_h("backend")),
    precision: str = typer.Option("auto", "--precision", help=_h("precision")),
    threads: int = typer.Option(0, "--threads", help=_h("threads")),
    max_batch: int = typer.Option(8, "--max-batch", help=_h("max_batch")),
    max_wait_ms: float = typer.Option(5.0, "--max-wait-ms", help=_h("max_wait_ms")),
    max_queue: int = typer.Option(64, "--max-queue", help=_h("max_queue")),
    max_body_mb: float = typer.Option(32.0, "--max-body-mb", help=_h("max_body_mb")),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help=_h("max_pixels")),
    max_rank_images: int = typer.Option(64, "--max-rank-images", help=_h("max_rank_images")),
    cache_images: int = typer.Option(4096, "--cache-images", help=_h("cache_images")),
    api_key_env: str = typer.Option("", "--api-key-env", help=_h("api_key_env")),
    retry_after_s: int = typer.Option(1, "--retry-after", help=_h("retry_after_s")),
    graceful_timeout_s: float = typer.Option(30.0, "--graceful-timeout", help=_h("graceful_timeout_s")),
    log_level: str = typer.Option("info", "--log-level", help=_h("log_level")),
):
    """Serve compare/rank over HTTP: /v1/compare, /v1/rank, /v1/model, /healthz, /readyz, /metrics, /docs.

    Example: C4U_TOKEN=secret c4u serve --export exports/student --port 8080 --api-key-env C4U_TOKEN
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError(f"c4u serve needs the serve extra ({e.name} is missing); pip install 'creative4u-small[serve]'") from None
    from creative4u_small.serve.serve_config import ServeConfig
    from creative4u_small.serve.server import run_server

    run_server(ServeConfig(
        export=export, host=host, port=port, backend=backend, precision=precision, threads=threads, max_batch=max_batch,
        max_wait_ms=max_wait_ms, max_queue=max_queue, max_body_mb=max_body_mb, max_pixels=max_pixels,
        max_rank_images=max_rank_images, cache_images=cache_images, api_key_env=api_key_env, retry_after_s=retry_after_s,
        graceful_timeout_s=graceful_timeout_s, log_level=log_level,
    ))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
