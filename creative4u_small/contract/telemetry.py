"""No telemetry: the engines this package loads are told not to collect or send anything, before they load.

- ONNX Runtime's Linux wheels carry Microsoft's 1DS telemetry client: importing onnxruntime and opening a session
  writes ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/{deviceid,onnxruntime.db}`` and queues events to send,
  unless ``ORT_DISABLE_TELEMETRY=1`` is in the environment *before* it is imported
  (``onnxruntime.disable_telemetry_events()`` after import still wrote both files).
- OpenVINO and NNCF report usage through ``openvino_telemetry`` unless a consent file under ``$HOME/intel`` says
  no; without it their first use writes a client id there and queues reports. Both fall back to a stub of their
  own when ``openvino_telemetry`` cannot be imported, so it is made unimportable in this process.
- Hugging Face's hub client is told the same for the training and export stages.
- Ray (``c4u batch --engine ray``, ``c4u label --engine ray``) reports cluster usage unless
  ``RAY_USAGE_STATS_ENABLED=0`` is set before it is imported; the Ray processes a job starts inherit it.

``creative4u_small`` calls ``disable`` on import, so every entry point (runtime, server, benchmarks, exporter,
CLI) has it before any engine loads; code that imports these engines before creative4u_small must opt out
itself (``ORT_DISABLE_TELEMETRY=1``; ``opt_in_out --opt_out`` for OpenVINO).
"""

from __future__ import annotations

import os
import sys

OPT_OUT = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}
BLOCKED_MODULES = ("openvino_telemetry",)


def disable() -> None:
    """Put every opt-out in this process's environment (inherited by the processes it starts) and make the
    telemetry modules unimportable (an import raises ImportError; their users fall back to stubs)."""
    os.environ.update(OPT_OUT)
    for name in BLOCKED_MODULES:
        sys.modules.setdefault(name, None)


def status(module: str) -> dict:
    """Whether ``module`` is blocked here; one imported before ``disable`` ran cannot be unloaded, and says so."""
    if sys.modules.get(module, "absent") is None:
        return {"telemetry": "off", "how": f"{module} made unimportable before the engine was imported"}
    return {"telemetry": "not guarded", "how": f"{module} was imported before creative4u_small; import creative4u_small "
                                               "first, or opt out with `opt_in_out --opt_out`"}
