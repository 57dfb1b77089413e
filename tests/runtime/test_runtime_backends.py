"""Backend discovery: auto picks the best present, a missing one is refused with what is available."""

import pytest

from creative4u_small.contract.settings import help_of
from creative4u_small.runtime import backends
from creative4u_small.runtime.selector_config import SelectorConfig


def test_auto_picks_the_best_available(monkeypatch):
    monkeypatch.setattr(backends, "_tensorrt_modules", lambda: None)
    monkeypatch.setattr(backends, "_ort_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert backends.available_backends() == ["cuda", "cpu"]
    assert backends.resolve_backend("auto") == "cuda"
    monkeypatch.setattr(backends, "_tensorrt_modules", lambda: ("trt", "cudart"))
    assert backends.resolve_backend("auto", has_engines=True) == "tensorrt"
    assert backends.resolve_backend("auto", has_engines=False) == "cuda"


def test_missing_backend_lists_the_available_ones(monkeypatch):
    monkeypatch.setattr(backends, "_tensorrt_modules", lambda: None)
    monkeypatch.setattr(backends, "_ort_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(backends.BackendError, match=r"backend 'cuda' .* not available here.*available: cpu"):
        backends.resolve_backend("cuda")
    with pytest.raises(backends.BackendError, match=r"no TensorRT engines .*available: cpu"):
        backends.resolve_backend("tensorrt", has_engines=False)
    with pytest.raises(backends.BackendError, match="unknown backend 'tpu'"):
        backends.resolve_backend("tpu")
    monkeypatch.setattr(backends, "_ort_providers", lambda: [])
    with pytest.raises(backends.BackendError, match="pip install"):
        backends.resolve_backend("auto")


def test_this_machine_has_the_cpu_backend():
    assert "cpu" in backends.available_backends()


def test_config_validation():
    with pytest.raises(ValueError, match="precision 'fp8'"):
        SelectorConfig(precision="fp8")
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        SelectorConfig(batch_size=0)
    with pytest.raises(ValueError, match="backend 'gpu'"):
        SelectorConfig(backend="gpu")
    assert "Example" not in help_of(SelectorConfig, "threads") and help_of(SelectorConfig, "threads")
