"""`c4u serve`: the selector as an HTTP service (FastAPI + uvicorn; `pip install creative4u-small[serve]`)."""

from __future__ import annotations

import typer

from creative4u_small.cli.common import friendly_errors
from creative4u_small.cli.config_options import from_config
from creative4u_small.serve.serve_config import ServeConfig
from creative4u_small.serve.server import run_server


@friendly_errors
@from_config(ServeConfig, ("export", "host", "port", "selector.backend", "selector.precision", "selector.device", "selector.threads", "workers", "max_batch",
                           "max_wait_ms", "max_queue", "max_reading", "body_timeout_s", "body_grace_s", "min_body_rate", "header_timeout_s",
                           "max_connections", "max_body_mb", "selector.max_pixels",
                           "max_request_pixels", "max_rank_images", "max_text_chars", "selector.cache_images", "api_key_env",
                           "retry_after_s", "graceful_timeout_s", "ui", "log_level"), required=("export",))
def serve(cfg: ServeConfig):
    """Serve compare/rank over HTTP: /v1/compare, /v1/rank, /v1/model, /healthz, /readyz, /metrics, /docs, and a page at /.

    Example: C4U_TOKEN=secret c4u serve --export exports/student --port 8080 --api-key-env C4U_TOKEN
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError(f"c4u serve needs the serve extra ({e.name} is missing); pip install 'creative4u-small[serve]'") from None

    run_server(cfg)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
