"""No telemetry: the engines this package loads are told not to collect or send anything.

ONNX Runtime's Linux wheels carry Microsoft's 1DS telemetry client: importing onnxruntime and opening a
session writes ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/{deviceid,onnxruntime.db}`` and queues
events to send, unless ``ORT_DISABLE_TELEMETRY=1`` is in the environment *before* it is imported
(``onnxruntime.disable_telemetry_events()`` after import still wrote both files). Hugging Face's hub
client is told the same for the training and export stages. ``creative4u_small`` sets these on import,
so every entry point (runtime, server, benchmarks, exporter, CLI) has them before any engine loads; code
that imports onnxruntime before creative4u_small must set them itself.
"""

from __future__ import annotations

import os

OPT_OUT = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def disable() -> None:
    """Put every opt-out in this process's environment (inherited by the processes it starts)."""
    os.environ.update(OPT_OUT)
