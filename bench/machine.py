"""The machine a figure was measured on: CPU, cores, memory, INT8 kernel, backends and library versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

from creative4u_small.contract.artifacts import versions
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.runtime import engines

LSCPU_FLAGS = {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma", "amx_int8"}


def machine_info() -> dict:
    """Everything a report records about this machine (``c4u bench``'s ``machine``)."""
    info = cpu_info()
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        pass
    vers = versions()
    for name in ("onnxruntime-gpu", "tensorrt", "pillow", "matplotlib"):
        try:
            vers[name] = version(name)
        except PackageNotFoundError:
            pass
    return {"cpu": info["model"], "cores": os.cpu_count(), "memory_gb": round(mem, 1) if mem else None, "platform": platform.platform(),
            "int8": {"flags": info["int8_flags"], "u8s8_kernel": info["u8s8_kernel"]},
            "available_backends": engines.available(), "versions": vers}


def machine_summary(*keys: str) -> dict:
    """The one-line form a script's JSON carries: ``cpu``, ``cores``, ``int8_flags``, ``u8s8_kernel`` (its name), or
    the ``keys`` asked for, in that order."""
    info = cpu_info()
    every = {"cpu": info["model"], "cores": os.cpu_count(), "int8_flags": info["int8_flags"], "u8s8_kernel": info["u8s8_kernel"]["name"]}
    return {k: every[k] for k in keys or every}


def lscpu_summary() -> dict:
    """CPU model, count and vector/INT8 flags as ``lscpu`` reports them (the processor name where it cannot run)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {"model": platform.processor()}
    info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = set(info.get("Flags", "").split())
    return {"model": info.get("Model name", "").strip(), "cpus": info.get("CPU(s)", "").strip(), "flags": sorted(flags & LSCPU_FLAGS)}
