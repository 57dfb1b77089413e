"""The CPU a figure or an export was measured on, and which INT8 kernel ONNX Runtime picks there.

ONNX Runtime's CPU INT8 GEMMs (MLAS) choose a kernel from the CPU's flags. Without VNNI (or AMX)
the u8 x s8 kernel multiplies adjacent pairs with ``vpmaddubsw``, whose int16 sum saturates when
both products are large (255 x 127 x 2 > 32767); VNNI, AMX and the ARM dot-product kernels do
not. An INT8 graph is only as good as the kernel it meets, so every export and every benchmark
records these flags. Torch-free.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The flags that decide the INT8 kernel (Linux /proc/cpuinfo names; ARM64 lists "Features").
INT8_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx_vnni_int8", "amx_tile", "amx_int8",
              "asimddp", "i8mm", "sve")


def _cpuinfo_fields(text: str) -> tuple[str, set[str]]:
    """(model name, flags) from the first processor block of /proc/cpuinfo text."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model, flags


def u8s8_kernel(flags: set[str], arch: str) -> dict:
    """The u8 x s8 GEMM kernel MLAS dispatches to for these flags, and whether its pair sums saturate."""
    arch = arch.lower()
    if arch in ("aarch64", "arm64"):
        name = "arm64 i8mm (ummla)" if "i8mm" in flags else "arm64 dot (udot)" if "asimddp" in flags else "arm64 neon"
        return {"name": name, "saturates": False}
    if arch not in ("x86_64", "amd64"):
        return {"name": f"unknown ({arch})", "saturates": None}
    if {"amx_tile", "amx_int8"} <= flags:
        return {"name": "amx", "saturates": False}
    if "avx512_vnni" in flags and {"avx512f", "avx512bw"} <= flags:
        return {"name": "avx512-vnni (vpdpbusd)", "saturates": False}
    if "avx_vnni" in flags:
        return {"name": "avx-vnni (vpdpbusd)", "saturates": False}
    if {"avx512f", "avx512bw"} <= flags:
        return {"name": "avx512-core (vpmaddubsw, int16 pair sums)", "saturates": True}
    if "avx2" in flags:
        return {"name": "avx2 (vpmaddubsw, int16 pair sums)", "saturates": True}
    return {"name": "sse (int16 widening)", "saturates": False}


def cpu_info(cpuinfo: str | None = None) -> dict:
    """Model, architecture, cores, the INT8-relevant flags present, and the u8 x s8 kernel they select."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model, flags = _cpuinfo_fields(cpuinfo)
    arch = platform.machine()
    return {
        "model": model or platform.processor() or "unknown",
        "arch": arch,
        "cores": os.cpu_count(),
        "int8_flags": [f for f in INT8_FLAGS if f in flags],
        "u8s8_kernel": u8s8_kernel(flags, arch),
    }
