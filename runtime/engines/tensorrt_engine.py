"""Native TensorRT engines (`c4u export --trt`): strongly typed INT8 engines built from the export's QDQ graphs.

The engines run through ``TrtGraph`` (tensorrt + cuda-python), which the exporter's parity check uses too. They
are INT8 only: where their probe fails there is nothing to fall back to on this engine, so the error says to use
the cuda or cpu backend. ``backend=auto`` takes them first where the export has them, a GPU is present, and
their parity and the shift-set check of the QDQ graphs they were built from passed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines.engine import BackendError, Engine


def tensorrt_modules():
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


class TrtGraph:
    """A deserialised TensorRT engine with one execution context (calls serialised by a lock).

    Device buffers are allocated on the first call and kept: a tensor is reallocated only when a
    call needs more bytes than it holds, so a steady batch shape costs no cudaMalloc per call.
    ``close`` frees them (the exporter's parity check and the runtime both use this class).
    """

    def __init__(self, path: Path, device_id: int = 0):
        mods = tensorrt_modules()
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


class TensorRTEngine(Engine):
    name = "tensorrt"
    help = "native TensorRT engines from `c4u export --trt` (tensorrt + cuda-python + an NVIDIA GPU)"
    on_gpu = True
    precisions = auto_precisions = ("int8",)
    parity_keys = {"int8": "tensorrt-int8"}
    shift_keys = {"int8": "int8-qdq"}  # the engines are built from the QDQ graphs the shift gate runs
    falls_back = False
    own_graphs = True

    def lacks(self, manifest: mf.Manifest) -> str | None:
        return None if manifest.tensorrt.get("engines") else "the export has no TensorRT engines (re-export with `c4u export --trt`)"

    def installed(self) -> str | None:
        return "tensorrt, cuda-python or an NVIDIA GPU is missing" if tensorrt_modules() is None else None

    def holds(self, manifest: mf.Manifest, precision: str) -> bool:
        return precision == "int8" and mf.JUDGE in manifest.tensorrt.get("engines", {})

    def check_precision(self, export_dir: Path, manifest: mf.Manifest, precision: str) -> None:
        if precision != "int8":
            raise BackendError(f"the tensorrt backend runs the export's INT8 engines only (asked: {precision}); "
                               "use backend cuda or cpu for other precisions")

    def variant_key(self, manifest: mf.Manifest, graph: str, precision: str) -> str | None:
        """The QDQ graph the engine was built from (its inputs and quantization), else the fp32 graph."""
        return next((k for k in (f"{graph}.int8-qdq", graph) if k in manifest.graphs), None)

    def graph_file(self, export_dir: Path, manifest: mf.Manifest, graph: str, key: str) -> Path:
        engines = manifest.tensorrt.get("engines", {})
        entry = engines.get(graph) or engines.get(key)
        if entry is None:
            raise BackendError(f"{export_dir}: no TensorRT engine for the {graph} graph; rebuild with `c4u export --trt` or use backend cuda/cpu")
        return Path(export_dir) / (entry["file"] if isinstance(entry, dict) else entry)

    def open(self, path: Path, entry: mf.GraphEntry, precision: str, config, manifest: mf.Manifest) -> TrtGraph:
        return TrtGraph(path, config.device_id)

    def describe(self, manifest: mf.Manifest) -> dict:
        return {"tensorrt": manifest.tensorrt.get("version")}


def gpu_memory_mb(device_id: int = 0) -> float | None:
    """Device memory in use (MiB) through NVML or cudart when present; None on a CPU-only host."""
    try:
        import pynvml

        pynvml.nvmlInit()
        info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(device_id))
        return info.used / 2**20
    except Exception:  # noqa: BLE001 - NVML absent or no GPU
        pass
    mods = tensorrt_modules()
    if mods is None:
        return None
    err, free, total = mods[1].cudaMemGetInfo()
    return (total - free) / 2**20 if int(err) == 0 else None


TENSORRT = TensorRTEngine()
