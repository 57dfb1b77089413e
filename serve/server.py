"""Load the export, build the app, serve it with uvicorn until SIGTERM/SIGINT (bodies still arriving are cut, requests being computed finish).

With ``--workers N`` uvicorn starts N worker processes on one socket; each builds its own app (its own
Selector) from the configuration passed in the environment, so N requests run at once, each on its
process's cores.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from creative4u_small.runtime.manifest import read_manifest
from creative4u_small.runtime.selector import Selector
from creative4u_small.serve.guard import JsonFormatter, log
from creative4u_small.serve.memory import return_large_blocks
from creative4u_small.serve.serve_config import ServeConfig

CONFIG_ENV = "C4U_SERVE_CONFIG"  # the resolved ServeConfig, as JSON, for worker processes


def setup_logging(level: str) -> None:
    """JSON lines on stderr for this package and uvicorn's own messages."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def load_selector(config: ServeConfig) -> Selector:
    """The Selector this server wraps (manifest and hashes checked, graphs opened)."""
    return Selector.load(config.export, config=config.selector)


def build_app(config: ServeConfig, selector=None):
    """The app of one server process: its Selector loaded (unless given), logging set up."""
    from creative4u_small.serve.app import create_app  # FastAPI: only when serving (c4u serve --help stays light)

    t0 = time.perf_counter()
    allocator = return_large_blocks()
    selector = selector or load_selector(config)
    app = create_app(config, selector)
    setup_logging(config.log_level)
    log.info("loaded", extra={"fields": {"export": str(config.export), "backend": selector.backend, "precision": selector.precision,
                                         "seconds": round(time.perf_counter() - t0, 3), "pid": os.getpid(), "allocator": allocator}})
    return app


def worker_app():
    """uvicorn's app factory in a worker process: the configuration comes from ``C4U_SERVE_CONFIG``."""
    return build_app(ServeConfig.from_dict(json.loads(os.environ[CONFIG_ENV])))


def run_server(config: ServeConfig, selector=None) -> None:
    """Serve until stopped; raises (before listening) if the export cannot be loaded."""
    import uvicorn

    from creative4u_small.serve.protocol import ACCEPT_BACKLOG, ServeProtocol, connection_limit  # uvicorn's: only when serving

    if config.api_key_env and not os.environ.get(config.api_key_env):
        raise ValueError(f"--api-key-env {config.api_key_env}: that environment variable is empty or unset; export it or drop the option")
    common = dict(host=config.host, port=config.port, log_config=None, access_log=False, lifespan="on", http=ServeProtocol, backlog=ACCEPT_BACKLOG,
                  timeout_graceful_shutdown=config.graceful_timeout_s or None, log_level=config.log_level)
    if config.workers == 1:
        uvicorn.Server(uvicorn.Config(build_app(config, selector), **common)).run()
        return
    read_manifest(config.export)  # refuse a missing or tampered export here, in one line, before any worker starts
    connection_limit(config.max_connections)  # and a --max-connections the open-files limit cannot hold
    os.environ[CONFIG_ENV] = json.dumps(config.to_dict())
    setup_logging(config.log_level)
    uvicorn.run("creative4u_small.serve.server:worker_app", factory=True, workers=config.workers, **common)
