"""ONNX Runtime: the export's ONNX graphs on the CPU, the CUDA execution provider or the TensorRT execution provider.

One engine class, three instances (``cpu``, ``cuda``, ``trt-ep``), told apart by the provider they ask for. A GPU
provider that silently falls back to the CPU is refused. Dynamic INT8 graphs take one image or one pair per call:
their per-tensor activation scale would otherwise make an answer depend on its batch mates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines.engine import BackendError, Engine

INSTALL = "pip install 'creative4u-small[cpu]' (or [gpu] for onnxruntime-gpu)"


def ort():
    """The ``onnxruntime`` module, or None where it is not installed."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def ort_providers() -> list[str]:
    module = ort()
    return list(module.get_available_providers()) if module else []


@dataclass
class OrtGraph:
    """One ONNX Runtime session, created once and shared by threads (``run`` is thread-safe)."""

    session: object
    output_names: list[str]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds)))

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())


class OrtEngine(Engine):
    """ONNX Runtime with one execution provider (``provider``) in front of the CPU's."""

    def __init__(self, name: str, provider: str, help: str, precisions: tuple[str, ...], **traits):
        self.name, self.provider, self.help = name, provider, help
        self.precisions = self.auto_precisions = precisions
        self.parity_keys = {p: p for p in precisions} | traits.pop("parity_keys", {})
        for trait, value in traits.items():  # on_gpu, in_auto
            setattr(self, trait, value)

    def installed(self) -> str | None:
        if ort() is None:
            return f"onnxruntime is not installed ({INSTALL})"
        if self.provider not in ort_providers():
            return f"ONNX Runtime here has no {self.provider} (its providers: {', '.join(ort_providers())})"
        return None

    def open(self, path: Path, entry: mf.GraphEntry, precision: str, config, manifest: mf.Manifest) -> OrtGraph:
        return open_session(path, self.provider, config.threads, config.device_id)

    def per_call(self, entry: mf.GraphEntry, batch_size: int) -> int:
        return 1 if entry.quantization.get("method") == "dynamic" else batch_size

    def describe(self, manifest: mf.Manifest) -> dict:
        module = ort()
        return {"onnxruntime": module.__version__ if module else None}


class TrtEpEngine(OrtEngine):
    """ONNX Runtime's TensorRT execution provider: the explicit-QDQ INT8 graphs where the export has them."""

    def __init__(self):
        super().__init__("trt-ep", "TensorrtExecutionProvider", "ONNX Runtime, TensorrtExecutionProvider (builds engines on first "
                         "load; onnxruntime-gpu + TensorRT)", ("fp16", "int8", "fp32"), on_gpu=True, in_auto=False,
                         parity_keys={"int8": "int8-qdq"})

    def variant_key(self, manifest: mf.Manifest, graph: str, precision: str) -> str | None:
        if precision == "int8" and f"{graph}.int8-qdq" in manifest.graphs:
            return f"{graph}.int8-qdq"
        return super().variant_key(manifest, graph, precision)


def open_session(path: Path, provider: str, threads: int = 0, device_id: int = 0) -> OrtGraph:
    """An inference session with ``provider`` first; refuses a GPU provider that silently fell back to the CPU."""
    module = ort()
    if module is None:
        raise BackendError(f"onnxruntime is not installed: {INSTALL}")
    opts = module.SessionOptions()
    opts.graph_optimization_level = module.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    providers: list = ["CPUExecutionProvider"]
    if provider == "CUDAExecutionProvider":
        providers = [(provider, {"device_id": device_id}), "CPUExecutionProvider"]
    elif provider == "TensorrtExecutionProvider":
        providers = [
            (provider, {"device_id": device_id, "trt_engine_cache_enable": True,
                        "trt_engine_cache_path": str(Path(path).parent / "trt_ep_cache"),
                        # explicit Q/DQ graphs need INT8 on; TensorRT then takes scales from the graph
                        "trt_int8_enable": Path(path).name.endswith(".int8-qdq.onnx")}),
            ("CUDAExecutionProvider", {"device_id": device_id}),
            "CPUExecutionProvider",
        ]
    try:
        session = module.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as e:  # noqa: BLE001 - ORT raises its own exception types (Fail, InvalidGraph, ...)
        raise BackendError(f"{path}: ONNX Runtime cannot load this graph ({str(e).splitlines()[0][:200]}); re-export it") from None
    if provider not in session.get_providers():
        raise BackendError(f"{path}: ONNX Runtime fell back to {session.get_providers()} instead of {provider}; check the GPU and CUDA libraries")
    return OrtGraph(session, [o.name for o in session.get_outputs()])


CPU = OrtEngine("cpu", "CPUExecutionProvider", "ONNX Runtime, CPUExecutionProvider", ("int8", "fp32", "fp16"))
CPU.auto_precisions = ("int8", "fp32")  # FP16 graphs are for GPUs: the CPU runs them only when asked
CUDA = OrtEngine("cuda", "CUDAExecutionProvider", "ONNX Runtime, CUDAExecutionProvider (onnxruntime-gpu and an NVIDIA GPU)",
                 ("fp16", "int8", "fp32"), on_gpu=True)
TRT_EP = TrtEpEngine()
