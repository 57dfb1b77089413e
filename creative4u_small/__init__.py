"""creative4u-small: a compact, exportable Creative4U ad-creative selector."""

from creative4u_small.contract import telemetry

telemetry.disable()  # before any engine (onnxruntime, openvino, transformers) is imported

__version__ = "0.1.0"
