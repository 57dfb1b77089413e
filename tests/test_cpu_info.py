"""The CPU record: flags parsed from /proc/cpuinfo text, and the INT8 kernel they select."""

from __future__ import annotations

import pytest

from creative4u_small.contract.cpu_info import cpu_info, u8s8_kernel

AVX2_ONLY = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi1 bmi2
"""
ARM64 = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
"""


def test_avx2_only_cpu_is_recorded_with_its_saturating_kernel():
    info = cpu_info(AVX2_ONLY)
    assert info["model"] == "AMD EPYC 7B12" and info["int8_flags"] == ["avx2"]
    assert u8s8_kernel({"avx2"}, "x86_64") == {"name": "avx2 (vpmaddubsw, int16 pair sums)", "saturates": True}


@pytest.mark.parametrize("flags, name, saturates", [
    ({"avx2", "avx512f", "avx512bw"}, "avx512-core", True),
    ({"avx2", "avx512f", "avx512bw", "avx512_vnni"}, "avx512-vnni", False),
    ({"avx2", "avx_vnni"}, "avx-vnni", False),
    ({"avx2", "avx512f", "avx512bw", "amx_tile", "amx_int8"}, "amx", False),
])
def test_x86_kernels(flags, name, saturates):
    kernel = u8s8_kernel(flags, "x86_64")
    assert kernel["name"].startswith(name) and kernel["saturates"] is saturates


def test_arm64_features_line():
    info = cpu_info(ARM64)
    assert "asimddp" in info["int8_flags"]
    assert u8s8_kernel({"asimddp"}, "aarch64") == {"name": "arm64 dot (udot)", "saturates": False}


def test_this_machine_is_described():
    info = cpu_info()
    assert info["model"] and info["arch"] and info["cores"] >= 1 and "saturates" in info["u8s8_kernel"]
