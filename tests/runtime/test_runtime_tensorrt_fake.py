"""The native TensorRT backend's API use, checked without a GPU.

No TensorRT or GPU exists here, so ``tensorrt`` and ``cudart`` are replaced by fakes that follow
the TensorRT 10 / cuda-python call signatures ((err, value) tuples, device pointers as ints,
``set_input_shape`` / ``set_tensor_address`` / ``execute_async_v3``) and whose "engines" run the
export's ONNX graphs with ONNX Runtime on host memory. The real engines are exercised only on a
GPU host (`c4u bench --backends tensorrt`).
"""

from __future__ import annotations

import ctypes
import json
import shutil
import types

import numpy as np
import pytest

from creative4u_small.runtime import Selector
from creative4u_small.runtime.engines import BackendError, tensorrt_engine
from creative4u_small.runtime import manifest as mf


class FakeCudart:
    class cudaMemcpyKind:
        cudaMemcpyHostToDevice = 1
        cudaMemcpyDeviceToHost = 2

    def __init__(self):
        self.live: dict[int, ctypes.Array] = {}
        self.calls: list[str] = []

    def cudaGetDeviceCount(self):
        return 0, 1

    def cudaSetDevice(self, i):
        return (0,)

    def cudaStreamCreate(self):
        return 0, 7

    def cudaMalloc(self, n):
        self.calls.append("malloc")
        buf = ctypes.create_string_buffer(n)
        self.live[ctypes.addressof(buf)] = buf
        return 0, ctypes.addressof(buf)

    def cudaFree(self, ptr):
        self.live.pop(ptr)
        return (0,)

    def cudaMemcpyAsync(self, dst, src, n, kind, stream):
        assert stream == 7
        self.calls.append("h2d" if kind == 1 else "d2h")
        ctypes.memmove(dst, src, n)
        return (0,)

    def cudaStreamSynchronize(self, stream):
        return (0,)


class FakeEngine:
    def __init__(self, onnx_bytes):
        import onnxruntime as ort

        self.session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        self.inputs = {i.name: np.dtype(np.float32 if "float" in i.type else np.int64) for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.num_io_tensors = len(self.inputs) + len(self.outputs)

    def get_tensor_name(self, i):
        return (list(self.inputs) + self.outputs)[i]

    def get_tensor_mode(self, name):
        return FakeTrt.TensorIOMode.INPUT if name in self.inputs else FakeTrt.TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name):
        return self.inputs.get(name, np.dtype(np.float32))

    def create_execution_context(self):
        return FakeContext(self)


class FakeContext:
    def __init__(self, engine):
        self.engine, self.shapes, self.addresses, self.executed = engine, {}, {}, 0

    def set_input_shape(self, name, shape):
        self.shapes[name] = tuple(shape)

    def set_tensor_address(self, name, ptr):
        self.addresses[name] = ptr

    def _feeds(self):
        out = {}
        for name, dtype in self.engine.inputs.items():
            n = int(np.prod(self.shapes[name])) * dtype.itemsize
            out[name] = np.frombuffer((ctypes.c_char * n).from_address(self.addresses[name]), dtype).reshape(self.shapes[name]).copy()
        return out

    def get_tensor_shape(self, name):  # TensorRT infers output shapes from the input shapes
        return self.engine.session.run([name], self._feeds())[0].shape

    def execute_async_v3(self, stream):
        self.executed += 1
        for name, value in zip(self.engine.outputs, self.engine.session.run(self.engine.outputs, self._feeds())):
            value = np.ascontiguousarray(value, dtype=np.float32)
            ctypes.memmove(self.addresses[name], value.ctypes.data, value.nbytes)
        return True


class FakeTrt(types.SimpleNamespace):
    class TensorIOMode:
        INPUT, OUTPUT = "input", "output"

    class Logger:
        WARNING = 2

        def __init__(self, level):
            pass

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, blob):
            return FakeEngine(blob) if blob.startswith(b"\x08") else None  # ONNX protobufs start with field 1

    @staticmethod
    def nptype(dtype):
        return dtype


@pytest.fixture
def fake_trt(monkeypatch):
    cudart = FakeCudart()
    monkeypatch.setattr(tensorrt_engine, "tensorrt_modules", lambda: (FakeTrt(), cudart))
    return cudart


@pytest.fixture
def engine_export(tiny_export, tmp_path):
    """The tiny export with a ``tensorrt`` section whose "engines" are the ONNX files (for the fake), their parity and
    the shift-set check of the QDQ graphs they stand for passed, as a real `--trt` export that passed would say."""
    dst = tmp_path / "export"
    shutil.copytree(tiny_export, dst)
    manifest = mf.read_manifest(dst)
    manifest.tensorrt = {"version": "fake", "engines": {g: {"file": manifest.graphs[g].file, "graph": g} for g in mf.GRAPHS}}
    manifest.parity["tensorrt-int8"] = {"status": "passed"}
    manifest.shift["variants"]["int8-qdq"] = {"status": "passed"}
    mf.write_manifest(dst, manifest)
    return dst


def test_native_engine_backend_gives_the_cpu_answers(fake_trt, engine_export, tiny_selector, synth_pairs):
    sel = Selector.load(engine_export, backend="auto")
    assert sel.backend == "tensorrt" and sel.describe()["backend"] == "tensorrt"
    items = [(p.image_a, p.image_b, p.query, p.title) for p in synth_pairs[:4]]
    got = [r.p_a for r in sel.compare_many(items)]
    want = [r.p_a for r in tiny_selector.compare_many(items)]
    assert np.allclose(got, want, atol=1e-6)
    r = sel.compare(*items[0], explain=True, min_new_tokens=3)
    ref = Selector.load(engine_export, backend="cpu", max_new_tokens=sel.config.max_new_tokens)
    assert r.rationale == ref.compare(*items[0], explain=True, min_new_tokens=3).rationale
    assert fake_trt.calls.count("d2h") > 0 and fake_trt.calls.count("h2d") > 0


def test_engine_buffers_are_allocated_once_per_shape_and_freed_on_close(fake_trt, engine_export, synth_pairs):
    m = mf.read_manifest(engine_export)
    graph = tensorrt_engine.TrtGraph(engine_export / m.tensorrt["engines"][mf.VISION]["file"])
    s = m.preprocessing.image_size
    pixels = np.random.default_rng(0).standard_normal((4, 3, s, s)).astype(np.float32)
    first = graph.run({mf.VISION_INPUTS[0]: pixels})
    mallocs = fake_trt.calls.count("malloc")
    assert mallocs == len(graph.inputs) + len(graph.output_names)
    again = graph.run({mf.VISION_INPUTS[0]: pixels})
    smaller = graph.run({mf.VISION_INPUTS[0]: pixels[:2]})
    assert fake_trt.calls.count("malloc") == mallocs  # same or smaller shapes reuse the buffers
    assert np.array_equal(first[mf.VISION_OUTPUTS[0]], again[mf.VISION_OUTPUTS[0]])
    assert np.allclose(smaller[mf.VISION_OUTPUTS[0]], first[mf.VISION_OUTPUTS[0]][:2], atol=1e-6)
    graph.run({mf.VISION_INPUTS[0]: np.concatenate([pixels, pixels])})
    assert fake_trt.calls.count("malloc") == 2 * mallocs  # a larger batch grows each buffer once
    assert len(fake_trt.live) == mallocs
    graph.close()
    assert not fake_trt.live  # every device buffer freed


def test_an_engine_tensorrt_cannot_read_is_a_clear_error(fake_trt, engine_export):
    (engine_export / "bad.engine").write_bytes(b"not an engine")
    data = json.loads((engine_export / mf.MANIFEST_FILE).read_text())
    data["tensorrt"]["engines"]["vision"]["file"] = "bad.engine"
    data["files"].pop("bad.engine", None)
    (engine_export / mf.MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(BackendError, match="bad.engine: TensorRT cannot deserialise"):
        Selector.load(engine_export, backend="tensorrt")


def test_tensorrt_without_engines_lists_what_is_available(fake_trt, tiny_export):
    with pytest.raises(BackendError, match="no TensorRT engines .* available: (openvino, )?cpu"):
        Selector.load(tiny_export, backend="tensorrt")
    assert Selector.load(tiny_export, backend="auto").backend == "cpu"
