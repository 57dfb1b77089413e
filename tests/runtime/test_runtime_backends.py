"""Engines and auto: the best available engine by rank, one skipped with its reason, a missing one refused with
what is available."""

import dataclasses

import pytest

from creative4u_small.contract.settings import help_of
from creative4u_small.runtime import choice, engines
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines import BackendError, ort_engine, tensorrt_engine
from creative4u_small.runtime.selector_config import SelectorConfig


@pytest.fixture(scope="module")
def manifest(tiny_export):
    """The tiny export's manifest with every gate passed (ONNX Runtime INT8, the QDQ graphs and TensorRT engines)."""
    m = mf.read_manifest(tiny_export)
    passed = {"status": "passed"}
    graphs = dict(m.graphs, **{f"{g}.int8-qdq": m.graphs[f"{g}.int8"] for g in (mf.VISION, mf.JUDGE)})
    return dataclasses.replace(m, graphs=graphs, parity={**m.parity, "int8": passed, "tensorrt-int8": passed},
                               shift={"variants": {"int8": passed, "int8-qdq": passed}},
                               tensorrt={"engines": {g: {"file": m.graphs[g].file} for g in (mf.VISION, mf.JUDGE)}})


def _gpu_machine(monkeypatch, trt: bool):
    monkeypatch.setattr(tensorrt_engine, "tensorrt_modules", lambda: ("trt", "cudart") if trt else None)
    monkeypatch.setattr(ort_engine, "ort_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_auto_takes_the_first_available_engine_by_rank(monkeypatch, manifest, tmp_path):
    _gpu_machine(monkeypatch, trt=False)
    assert engines.available(manifest)[0] == "cuda" and "trt-ep" not in engines.available(manifest)
    picked = choice.choose(tmp_path, manifest, SelectorConfig())
    assert (picked.engine.name, picked.precision) == ("cuda", "int8")  # the tiny export has no FP16 graphs
    assert picked.backend_reason == "auto: cuda, the first GPU engine available"
    _gpu_machine(monkeypatch, trt=True)
    picked = choice.choose(tmp_path, manifest, SelectorConfig())
    assert (picked.engine.name, picked.precision) == ("tensorrt", "int8")


def test_auto_skips_an_unavailable_or_failing_engine_and_says_why(monkeypatch, manifest, tmp_path):
    _gpu_machine(monkeypatch, trt=True)
    failed = {"status": "failed", "reason": "max |delta p_a| 0.2 is above 0.05"}
    drifting = dataclasses.replace(manifest, shift={"variants": {"int8": {"status": "passed"}, "int8-qdq": failed}})
    picked = choice.choose(tmp_path, drifting, SelectorConfig())
    assert picked.engine.name == "cuda"
    passed_over = {(p["backend"], p.get("precision")): p["reason"] for p in picked.passed_over}
    assert passed_over[("tensorrt", "int8")] == "int8-qdq failed the shift-set check (max |delta p_a| 0.2 is above 0.05)"
    _gpu_machine(monkeypatch, trt=False)
    picked = choice.choose(tmp_path, manifest, SelectorConfig())
    assert {p["backend"]: p["reason"] for p in picked.passed_over}["tensorrt"] == "tensorrt, cuda-python or an NVIDIA GPU is missing"
    plain = dataclasses.replace(manifest, tensorrt={})
    assert {p["backend"]: p["reason"] for p in choice.choose(tmp_path, plain, SelectorConfig()).passed_over}["tensorrt"].startswith(
        "the export has no TensorRT engines")


def test_missing_backend_lists_the_available_ones(monkeypatch, manifest, tmp_path):
    monkeypatch.setattr(tensorrt_engine, "tensorrt_modules", lambda: None)
    monkeypatch.setattr(ort_engine, "ort_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(BackendError, match=r"backend 'cuda' .* not available here.*available: .*cpu"):
        choice.choose(tmp_path, manifest, SelectorConfig(backend="cuda"))
    with pytest.raises(BackendError, match=r"no TensorRT engines .*available: .*cpu"):
        choice.choose(tmp_path, dataclasses.replace(manifest, tensorrt={}), SelectorConfig(backend="tensorrt"))
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        engines.engine("tpu")
    monkeypatch.setattr(ort_engine, "ort_providers", lambda: [])
    monkeypatch.setattr(engines.OPENVINO, "installed", lambda: "not here")
    with pytest.raises(BackendError, match="pip install"):
        choice.choose(tmp_path, manifest, SelectorConfig())


def test_this_machine_has_the_cpu_backend():
    assert "cpu" in engines.available()


def test_config_validation():
    with pytest.raises(ValueError, match="precision 'fp8'"):
        SelectorConfig(precision="fp8")
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        SelectorConfig(batch_size=0)
    with pytest.raises(ValueError, match="backend 'gpu'"):
        SelectorConfig(backend="gpu")
    assert "Example" not in help_of(SelectorConfig, "threads") and help_of(SelectorConfig, "threads")
