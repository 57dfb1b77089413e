"""Where the graphs run: ONNX Runtime (CPU, CUDA EP, TensorRT EP), native TensorRT engines or OpenVINO IR.

Every backend exposes the same tiny interface — ``open_graph(path_or_engine) -> Graph`` whose
``run(feeds) -> {output name: numpy array}`` — so the selector does not care which one it has.
Imports are guarded: a backend whose package or device is missing is simply not available, and
asking for it names the ones that are (``auto`` picks the best present and says which).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.runtime import openvino_backend

# best first: native engines, then ONNX Runtime on the GPU, then OpenVINO INT8 (where the export's parity
# vouches for it, see openvino_backend.auto_choice), then ONNX Runtime on the CPU
AUTO_ORDER = ("tensorrt", "cuda", "openvino", "cpu")
BACKENDS = ("tensorrt", "trt-ep", "cuda", "openvino", "cpu")
BACKEND_HELP = {
    "cpu": "ONNX Runtime, CPUExecutionProvider",
    "cuda": "ONNX Runtime, CUDAExecutionProvider (onnxruntime-gpu and an NVIDIA GPU)",
    "trt-ep": "ONNX Runtime, TensorrtExecutionProvider (builds engines on first load; onnxruntime-gpu + TensorRT)",
    "tensorrt": "native TensorRT engines from `c4u export --trt` (tensorrt + cuda-python + an NVIDIA GPU)",
    "openvino": f"OpenVINO IR from `c4u export --openvino` on a CPU, Intel GPU or NPU ({openvino_backend.INSTALL})",
}
_ORT_PROVIDER = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "trt-ep": "TensorrtExecutionProvider"}


class BackendError(RuntimeError):
    """A backend that cannot be used here, with what can."""


def _ort():
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def _tensorrt_modules():
    """(tensorrt, cudart) or None; cuda-python moved cudart to ``cuda.bindings.runtime`` in 12.6."""
    try:
        import tensorrt
    except ImportError:
        return None
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            return None
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count < 1:
        return None
    return tensorrt, cudart


def _ort_providers() -> list[str]:
    ort = _ort()
    return list(ort.get_available_providers()) if ort else []


def available_backends(has_engines: bool = True, has_ir: bool = False) -> list[str]:
    """Backends usable in this process, best first (``tensorrt`` only when the export has engines, ``openvino``
    only when it has OpenVINO IR: openvino is imported only then)."""
    out = []
    if has_engines and _tensorrt_modules() is not None:
        out.append("tensorrt")
    providers = _ort_providers()
    for name in ("trt-ep", "cuda"):
        if _ORT_PROVIDER[name] in providers:
            out.append(name)
    if has_ir and openvino_backend.openvino() is not None:
        out.append("openvino")
    if _ORT_PROVIDER["cpu"] in providers:
        out.append("cpu")
    return out


def resolve_backend(name: str, has_engines: bool = True, has_ir: bool = False, openvino_first: bool = False) -> str:
    """``auto`` → the best available backend (``openvino`` only with ``openvino_first``); anything else must be
    available, or a clear error."""
    available = available_backends(has_engines, has_ir)
    if name == "auto":
        for candidate in AUTO_ORDER:
            if candidate in available and (candidate != "openvino" or openvino_first):
                return candidate
        raise BackendError("no backend is available; install onnxruntime (CPU) or onnxruntime-gpu: pip install 'creative4u-small[cpu]'")
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose auto or one of: {', '.join(BACKENDS)}")
    if name not in available:
        why = ("the export has no TensorRT engines (re-export with `c4u export --trt`) or " if name == "tensorrt" and not has_engines
               else "the export has no OpenVINO IR (re-export with `c4u export --openvino`) or " if name == "openvino" and not has_ir
               else "")
        raise BackendError(
            f"backend {name!r} ({BACKEND_HELP[name]}) is not available here: {why}its package or device is missing; "
            f"available: {', '.join(available) or 'none'}"
        )
    return name


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


def open_ort(path: Path, backend: str, threads: int = 0, device_id: int = 0) -> OrtGraph:
    """An inference session on ``backend``; refuses a GPU backend that silently fell back to the CPU."""
    ort = _ort()
    if ort is None:
        raise BackendError("onnxruntime is not installed: pip install 'creative4u-small[cpu]'")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    providers: list = ["CPUExecutionProvider"]
    if backend == "cuda":
        providers = [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
    elif backend == "trt-ep":
        cache = Path(path).parent / "trt_ep_cache"
        providers = [
            ("TensorrtExecutionProvider", {"device_id": device_id, "trt_engine_cache_enable": True,
                                           "trt_engine_cache_path": str(cache),
                                           # explicit Q/DQ graphs need INT8 on; TensorRT then takes scales from the graph
                                           "trt_int8_enable": Path(path).name.endswith(".int8-qdq.onnx")}),
            ("CUDAExecutionProvider", {"device_id": device_id}),
            "CPUExecutionProvider",
        ]
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as e:  # noqa: BLE001 - ORT raises its own exception types (Fail, InvalidGraph, ...)
        raise BackendError(f"{path}: ONNX Runtime cannot load this graph ({str(e).splitlines()[0][:200]}); re-export it") from None
    wanted = _ORT_PROVIDER[backend]
    if wanted not in session.get_providers():
        raise BackendError(f"{path}: ONNX Runtime fell back to {session.get_providers()} instead of {wanted}; check the GPU and CUDA libraries")
    return OrtGraph(session, [o.name for o in session.get_outputs()])


class TrtGraph:
    """A deserialised TensorRT engine with one execution context (calls serialised by a lock).

    Device buffers are allocated on the first call and kept: a tensor is reallocated only when a
    call needs more bytes than it holds, so a steady batch shape costs no cudaMalloc per call.
    ``close`` frees them (the exporter's parity check and the runtime both use this class).
    """

    def __init__(self, path: Path, device_id: int = 0):
        mods = _tensorrt_modules()
        if mods is None:
            raise BackendError("tensorrt, cuda-python or an NVIDIA GPU is missing")
        self.trt, self.cudart = mods
        self._call(self.cudart.cudaSetDevice(device_id))
        runtime = self.trt.Runtime(self.trt.Logger(self.trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise BackendError(f"{path}: TensorRT cannot deserialise this engine (built by another TensorRT version or GPU?); rebuild it with `c4u export --trt`")
        self.context = self.engine.create_execution_context()
        self.stream = self._call(self.cudart.cudaStreamCreate())
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == self.trt.TensorIOMode.INPUT for n in names}
        self.inputs = [n for n in names if is_input[n]]
        self.output_names = [n for n in names if not is_input[n]]
        self.dtypes = {n: np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        self._buffers: dict[str, tuple[int, int]] = {}  # tensor name -> (device pointer, bytes)
        self._lock = threading.Lock()

    def _call(self, result):
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise BackendError(f"CUDA call failed with error {err}")
        return rest[0] if len(rest) == 1 else (rest or None)

    def _device(self, name: str, nbytes: int) -> int:
        """The tensor's device buffer, grown when ``nbytes`` does not fit, bound to the context."""
        ptr, size = self._buffers.get(name, (0, 0))
        if nbytes > size or not ptr:
            if ptr:
                self._call(self.cudart.cudaFree(ptr))
                self._buffers.pop(name)
            size = max(nbytes, 1)
            ptr = self._call(self.cudart.cudaMalloc(size))
            self._buffers[name] = (ptr, size)
        self.context.set_tensor_address(name, ptr)
        return ptr

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cudart = self.cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        with self._lock:
            for name in self.inputs:
                host = np.ascontiguousarray(feeds[name], dtype=self.dtypes[name])
                self.context.set_input_shape(name, host.shape)
                ptr = self._device(name, host.nbytes)
                self._call(cudart.cudaMemcpyAsync(ptr, host.ctypes.data, host.nbytes, h2d, self.stream))
            outs = {}
            for name in self.output_names:
                host = np.empty(tuple(self.context.get_tensor_shape(name)), dtype=self.dtypes[name])
                outs[name] = (host, self._device(name, host.nbytes))
            if not self.context.execute_async_v3(self.stream):
                raise BackendError("TensorRT execution failed (shapes outside the engine's optimisation profile?)")
            for host, ptr in outs.values():
                self._call(cudart.cudaMemcpyAsync(host.ctypes.data, ptr, host.nbytes, d2h, self.stream))
            self._call(cudart.cudaStreamSynchronize(self.stream))
            return {name: host for name, (host, _) in outs.items()}

    def close(self) -> None:
        """Free the device buffers (the next ``run`` allocates again)."""
        with self._lock:
            while self._buffers:
                _, (ptr, _) = self._buffers.popitem()
                self.cudart.cudaFree(ptr)

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn down cudart already
            pass


def open_graph(path: Path, backend: str, threads: int = 0, device_id: int = 0, openvino: dict | None = None):
    """A runnable graph for ``backend``: an engine file for ``tensorrt``, an IR file for ``openvino`` (``openvino``:
    its precision and device), an ONNX file otherwise."""
    if backend == "tensorrt":
        return TrtGraph(path, device_id)
    if backend == "openvino":
        try:
            return openvino_backend.open_ir(path, threads=threads, **(openvino or {}))
        except openvino_backend.OpenVinoError as e:
            raise BackendError(str(e)) from None
    return open_ort(path, backend, threads, device_id)


def gpu_memory_mb(device_id: int = 0) -> float | None:
    """Device memory in use (MiB) through NVML or cudart when present; None on a CPU-only host."""
    try:
        import pynvml

        pynvml.nvmlInit()
        info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(device_id))
        return info.used / 2**20
    except Exception:  # noqa: BLE001 - NVML absent or no GPU
        pass
    mods = _tensorrt_modules()
    if mods is None:
        return None
    err, free, total = mods[1].cudaMemGetInfo()
    return (total - free) / 2**20 if int(err) == 0 else None
