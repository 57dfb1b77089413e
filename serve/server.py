"""Load the export, build the app, serve it with uvicorn until SIGTERM/SIGINT (in-flight requests finish)."""

from __future__ import annotations

import logging
import os
import sys
import time

from creative4u_small.serve.serve_config import ServeConfig


def setup_logging(level: str) -> None:
    """JSON lines on stderr for this package and uvicorn's own messages."""
    from creative4u_small.serve.guard import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def load_selector(config: ServeConfig):
    """The Selector this server wraps (manifest and hashes checked, graphs opened)."""
    from creative4u_small.runtime import Selector, SelectorConfig

    sel_config = SelectorConfig(precision=config.precision, threads=config.lane_threads, max_pixels=config.max_pixels,
                                cache_images=config.cache_images, device=config.device)
    return Selector.load(config.export, backend=config.backend, config=sel_config)


def run_server(config: ServeConfig, selector=None) -> None:
    """Serve until stopped; raises (before listening) if the export cannot be loaded."""
    import uvicorn

    from creative4u_small.serve.app import create_app
    from creative4u_small.serve.guard import log

    if config.api_key_env and not os.environ.get(config.api_key_env):
        raise ValueError(f"--api-key-env {config.api_key_env}: that environment variable is empty or unset; export it or drop the option")
    t0 = time.perf_counter()
    selector = selector or load_selector(config)
    app = create_app(config, selector)
    setup_logging(config.log_level)
    log.info("loaded", extra={"fields": {"export": str(config.export), "backend": selector.backend, "precision": selector.precision,
                                         "seconds": round(time.perf_counter() - t0, 3)}})
    server = uvicorn.Server(uvicorn.Config(
        app, host=config.host, port=config.port, log_config=None, access_log=False, lifespan="on",
        timeout_graceful_shutdown=config.graceful_timeout_s or None, log_level=config.log_level,
    ))
    server.run()
