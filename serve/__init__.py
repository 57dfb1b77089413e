"""``c4u serve``: the torch-free Selector as an HTTP service (FastAPI + uvicorn) for on-prem ad tooling.

``create_app(config, selector)`` builds the FastAPI app; ``run_server(config)`` loads the export and
serves it. Imports core and ``creative4u_small.runtime`` only, never torch or transformers.
"""

from __future__ import annotations

__all__ = ["ServeConfig", "create_app", "run_server"]


def __getattr__(name: str):
    if name == "ServeConfig":
        from creative4u_small.serve.serve_config import ServeConfig

        return ServeConfig
    if name == "create_app":
        from creative4u_small.serve.app import create_app

        return create_app
    if name == "run_server":
        from creative4u_small.serve.server import run_server

        return run_server
    raise AttributeError(f"module 'creative4u_small.serve' has no attribute {name!r}")
