"""TensorRT: profile and manifest logic without a GPU; the real build where a GPU and tensorrt exist."""

from __future__ import annotations

import importlib.util
import json
import types

import pytest

from creative4u_small.export import tensorrt_build as T
from creative4u_small.runtime import manifest as mf


def _has_gpu_trt() -> tuple[bool, str]:
    if importlib.util.find_spec("tensorrt") is None:
        return False, "the tensorrt package is not installed"
    import torch

    if not torch.cuda.is_available():
        return False, "no CUDA GPU is visible"
    return True, ""


HAS_TRT, NO_TRT_REASON = _has_gpu_trt()


def test_profiles_cover_rows_and_sequence():
    p = T.judge_profile(min_seq=120, max_seq=248, image_seq_len=4, hidden=32, max_rows=16)
    lo, opt, hi = p.shapes["input_ids"]
    assert lo == (1, 120) and hi == (16, 248) and opt == (2, 136)
    assert p.shapes["attention_mask"] == p.shapes["input_ids"]
    assert p.shapes["image_embeds"] == ((1, 8, 32), (2, 8, 32), (16, 8, 32))
    v = T.vision_profile(64, max_images=8)
    assert v.shapes["pixel_values"] == ((1, 3, 64, 64), (2, 3, 64, 64), (8, 3, 64, 64))
    with pytest.raises(ValueError, match="shorter than the fixed prompt"):
        T.judge_profile(min_seq=200, max_seq=100, image_seq_len=4, hidden=32, max_rows=4)
    with pytest.raises(ValueError, match="min <= opt <= max"):
        T.Profile({"x": ((4,), (2,), (8,))})
    with pytest.raises(ValueError, match="at least 1"):
        T.Profile({"x": ((0,), (2,), (8,))})


def test_profiles_from_the_exported_prompt(tiny_export):
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.tensorrt_build import fixed_prompt_len, trt_profiles

    out, _ = tiny_export
    m = mf.read_manifest(out)
    shortest = len(m.prompt.assemble_ids(lambda t: [0] * len(t.split()), "", ""))
    assert fixed_prompt_len(m.prompt) == shortest
    profiles = trt_profiles(ExportConfig(model=out, out=out, trt_max_rows=8), m.prompt, m.dims, m.preprocessing.image_size)
    assert profiles["judge"].shapes["input_ids"][0] == (1, shortest)
    assert profiles["judge"].shapes["input_ids"][2] == (8, shortest + 128)
    # every profile name is a real input of the graph it is for
    for role, prof in profiles.items():
        assert set(prof.shapes) == set(m.graphs[role].inputs)


def test_engine_names_and_ort_ep_settings():
    assert T.engine_file_name("judge.int8-qdq", "10.3.0", "NVIDIA A10G") == "judge.int8-qdq.trt10.3.0.nvidia-a10g.plan"
    p = T.judge_profile(min_seq=10, max_seq=20, image_seq_len=4, hidden=32, max_rows=4)
    opts = T.ort_trt_provider_options({"judge.int8-qdq": p}, workspace_mb=64)["judge.int8-qdq"]
    assert opts["trt_profile_min_shapes"] == "input_ids:1x10,attention_mask:1x10,image_embeds:1x8x32"
    assert opts["trt_profile_max_shapes"] == "input_ids:4x20,attention_mask:4x20,image_embeds:4x8x32"
    assert opts["trt_max_workspace_size"] == 64 << 20 and opts["trt_int8_enable"] is True


class _FakeTRT:
    """Records the TensorRT 10/11 builder calls; stands in for the real module (no GPU here)."""

    __version__ = "10.9.0"

    class Logger:
        WARNING = 2

        def __init__(self, level):
            pass

    NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=2)
    MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")

    def __init__(self):
        self.calls = []
        fake = self

        class Input:
            def __init__(self, name):
                self.name = name

        class Network:
            num_inputs = 1

            def get_input(self, i):
                return Input("pixel_values")

        class Cache:
            def serialize(self):
                return b"cache-bytes"

        class Config:
            def set_memory_pool_limit(self, pool, size):
                fake.calls.append(("pool", pool, size))

            def add_optimization_profile(self, p):
                fake.calls.append(("profile", p.shapes))

            def create_timing_cache(self, data):
                fake.calls.append(("create_cache", data))
                return Cache()

            def set_timing_cache(self, cache, ignore_mismatch):
                fake.calls.append(("set_cache", ignore_mismatch))

            def get_timing_cache(self):
                return Cache()

            def set_flag(self, flag):  # a precision flag must never be set
                raise AssertionError("precision flags are not used with strongly typed networks")

        class Profile:
            def __init__(self):
                self.shapes = {}

            def set_shape(self, name, lo, opt, hi):
                self.shapes[name] = (lo, opt, hi)

        class Builder:
            def __init__(self, logger):
                pass

            def create_network(self, flags):
                fake.calls.append(("network", flags))
                return Network()

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                return b"engine-bytes"

        class OnnxParser:
            num_errors = 0

            def __init__(self, network, logger):
                pass

            def parse_from_file(self, path):
                fake.calls.append(("parse", path))
                return True

        self.Builder, self.OnnxParser = Builder, OnnxParser


def test_build_engine_uses_strongly_typed_network_profile_and_timing_cache(tmp_path):
    trt = _FakeTRT()
    onnx_path = tmp_path / "vision.int8.onnx"
    onnx_path.write_bytes(b"onnx")
    cache = tmp_path / T.TIMING_CACHE_FILE
    cache.write_bytes(b"old-cache")
    profile = T.vision_profile(32, 4)
    engine = T.build_engine(trt, onnx_path, profile, tmp_path / "e.plan", cache, workspace_mb=8)
    assert engine.read_bytes() == b"engine-bytes" and cache.read_bytes() == b"cache-bytes"
    assert ("network", 1 << 2) in trt.calls  # STRONGLY_TYPED, nothing else
    assert ("create_cache", b"old-cache") in trt.calls and ("set_cache", False) in trt.calls
    assert ("profile", {"pixel_values": profile.shapes["pixel_values"]}) in trt.calls
    assert ("pool", "workspace", 8 << 20) in trt.calls
    with pytest.raises(ValueError, match="not inputs"):
        T.build_engine(trt, onnx_path, T.Profile({"nope": ((1,), (1,), (1,))}), tmp_path / "f.plan", cache)
    assert not (tmp_path / "f.plan").exists()


@pytest.mark.skipif(HAS_TRT, reason="TensorRT and a GPU are present; the missing-TensorRT message cannot be shown")
def test_trt_without_tensorrt_or_gpu_stops_with_one_line_and_writes_nothing(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from creative4u_small.cli import app

    with pytest.raises(T.TensorRTUnavailable, match="tensorrt|CUDA GPU"):
        T.check_tensorrt()
    out = tmp_path / "trt-export"
    result = CliRunner().invoke(app, ["export", "--model", str(tiny_model_dir), "--out", str(out), "--trt"])
    assert result.exit_code != 0
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --trt needs") and "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".trt-export*"))


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TRT, reason=f"TensorRT engine build needs a GPU and tensorrt: {NO_TRT_REASON}")
def test_trt_export_builds_engines_on_gpu(tiny_model_dir, tmp_path):
    import tensorrt as trt

    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    out = tmp_path / "trt"
    summary = run_export(ExportConfig(model=tiny_model_dir, out=out, trt=True, decoder=False, calib_pairs=8, trt_max_rows=4))
    m = mf.read_manifest(out)
    assert m.tensorrt["strongly_typed"] and m.tensorrt["version"] == trt.__version__
    assert m.parity["int8-qdq"]["status"] in ("passed", "unverified") and summary["status"] != "failed"
    assert m.parity["tensorrt-int8"]["status"] in ("passed", "unverified") and m.parity["tensorrt-int8"]["rows"] == 16
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    for role, engine in m.tensorrt["engines"].items():
        assert trt.__version__ in engine["file"] and engine["file"] in m.files
        e = runtime.deserialize_cuda_engine((out / engine["file"]).read_bytes())
        names = {e.get_tensor_name(i) for i in range(e.num_io_tensors)}
        assert set(m.graphs[role].inputs) <= names
    assert json.loads((out / mf.MANIFEST_FILE).read_text())["tensorrt"]["onnxruntime_ep"]
