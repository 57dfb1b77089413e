"""Where the graphs run: one ``Engine`` per backend, each in a module of its own, listed here once.

``ENGINES`` is auto's fixed order (native TensorRT engines, ONNX Runtime on the GPU, OpenVINO, ONNX Runtime on
the CPU); ``runtime.choice`` ranks them by the export's gates and timings. A new backend is one new module and
one line here.
"""

from __future__ import annotations

from creative4u_small.runtime.engines.engine import BackendError, Engine
from creative4u_small.runtime.engines.openvino_engine import OPENVINO
from creative4u_small.runtime.engines.ort_engine import CPU, CUDA, TRT_EP
from creative4u_small.runtime.engines.tensorrt_engine import TENSORRT

ENGINES: tuple[Engine, ...] = (TENSORRT, CUDA, TRT_EP, OPENVINO, CPU)
BY_NAME = {e.name: e for e in ENGINES}
BACKENDS = tuple(BY_NAME)
# auto's order where the export measured no compare time: GPU engines, then INT8 (OpenVINO's first: it batches), then
# ONNX Runtime's fp32 (the reference path) before OpenVINO's
FIXED_ORDER = (("tensorrt", "int8"), ("cuda", "fp16"), ("cuda", "int8"), ("cuda", "fp32"), ("openvino", "int8"),
               ("cpu", "int8"), ("cpu", "fp32"), ("openvino", "fp32"))

__all__ = ["BACKENDS", "BY_NAME", "ENGINES", "BackendError", "Engine", "engine", "available", "cpu_paths"]


def engine(name: str) -> Engine:
    """The engine called ``name``, or a clear error listing them."""
    if name not in BY_NAME:
        raise BackendError(f"unknown backend {name!r}; choose auto or one of: {', '.join(BACKENDS)}")
    return BY_NAME[name]


def available(manifest=None) -> list[str]:
    """The backends that can run ``manifest``'s export here (without one: that this machine can run), in auto's order."""
    return [e.name for e in ENGINES if e.missing(manifest) is None]


def cpu_paths() -> dict[str, tuple[str, str]]:
    """The CPU paths backend auto weighs, by the manifest's parity key of their graphs: key -> (backend, precision)."""
    return {e.parity_keys[p]: (e.name, p) for e in ENGINES if e.in_auto and not e.on_gpu for p in e.auto_precisions}
