"""Which backend and precision a Selector runs, and which of the export's graphs that means; and why.

``auto`` takes, in order: OpenVINO INT8 on x86 where the export holds its IR, its parity passed and ``openvino``
imports; else the best available engine (TensorRT engines, ONNX Runtime on the GPU, the CPU); and on it FP16 on a
GPU, INT8 where the export's INT8 parity for that engine's graphs passed, else fp32. Each choice says why.
"""

from __future__ import annotations

from pathlib import Path

from creative4u_small.runtime import backends, openvino_backend
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.selector_config import SelectorConfig


def choose(export_dir: Path, manifest: mf.Manifest, config: SelectorConfig) -> tuple[str, str, str, str]:
    """(backend, precision, why that precision, why that backend) for ``config`` on this export, or a one-line error."""
    has_engines, has_ir = bool(manifest.tensorrt.get("engines")), openvino_backend.has_ir(manifest)
    openvino_first, why = openvino_backend.auto_choice(manifest) if config.backend == "auto" and has_ir else (False, "")
    chosen = backends.resolve_backend(config.backend, has_engines, has_ir, openvino_first)
    if chosen == "openvino":
        has_int8 = openvino_backend.has_precision(manifest, "int8")
        if config.precision != "auto" and not openvino_backend.has_precision(manifest, config.precision):
            raise mf.ManifestError(f"{export_dir}: the export has no OpenVINO IR for precision {config.precision} "
                                   "(OpenVINO runs fp32, bf16 and int8); re-export with `c4u export --openvino`")
    else:
        has_int8 = any(k.endswith(".int8") for k in manifest.graphs)
        if config.precision == "bf16":
            raise backends.BackendError(f"precision bf16 runs on the openvino backend only (backend here: {chosen})")
        if config.precision in ("int8", "fp16") and not any(k.endswith("." + config.precision) for k in manifest.graphs):
            raise mf.ManifestError(f"{export_dir}: the export has no {config.precision.upper()} graphs; re-export with "
                                   f"`c4u export --{config.precision}` or use precision fp32")
    precision, reason = config.precision, ""
    if precision == "auto":
        precision, reason = auto_precision(manifest, chosen, has_int8)
    backend_reason = "" if config.backend != "auto" else f"auto: {why}" if why else f"auto: the best available ({chosen})"
    return chosen, precision, reason, backend_reason


def graph_key(manifest: mf.Manifest, backend: str, graph: str, precision: str) -> str:
    """The manifest key to run: TensorRT takes the explicit-QDQ INT8 graph, ONNX Runtime's other EPs the dynamic one."""
    if backend == "openvino":
        return openvino_backend.graph_key(manifest, graph, precision)
    if precision == "fp16":
        return f"{graph}.fp16" if f"{graph}.fp16" in manifest.graphs else graph
    if precision != "int8":
        return graph
    wanted = (f"{graph}.int8-qdq", f"{graph}.int8") if backend == "trt-ep" else (f"{graph}.int8",)
    return next((k for k in wanted if k in manifest.graphs), graph)


def auto_precision(manifest: mf.Manifest, backend: str, has_int8: bool) -> tuple[str, str]:
    """On ONNX Runtime's GPU providers FP16 where the export has it and its parity did not fail (the load-time
    probe then checks it on this GPU); otherwise INT8 where the export's INT8 parity for this backend's graphs
    passed, else fp32; and why."""
    if backend in ("cuda", "trt-ep") and f"{mf.JUDGE}.fp16" in manifest.graphs:
        status = manifest.parity.get("fp16", {}).get("status", "absent")
        if status != "failed":
            return "fp16", f"auto: FP16 graphs on a GPU (export parity {status}; probed on this GPU at load)"
    key = {"trt-ep": "int8-qdq", "tensorrt": "tensorrt-int8", "openvino": openvino_backend.PARITY_KEY["int8"]}.get(backend, "int8")
    if not has_int8:
        return "fp32", "auto: the export has no INT8 graphs"
    status = manifest.parity.get(key, {}).get("status", "absent")
    if status == "passed":
        return "int8", f"auto: the export's {key} parity passed"
    return "fp32", f"auto: the export's {key} parity is {status}"
