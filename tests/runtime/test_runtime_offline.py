"""The runtime opens no connection and writes nothing outside its folders (ONNX Runtime's telemetry stays off)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# A compare and an explain, under a guard that fails on any Python-level connection or name lookup.
RUN = """
import socket, sys
def refuse(*args, **kwargs):
    raise AssertionError(f"the runtime tried the network: {args!r}")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from PIL import Image
from creative4u_small.runtime import Selector
sel = Selector.load(sys.argv[1], backend="cpu", threads=1)
a, b = Image.new("RGB", (40, 40), (200, 0, 0)), Image.new("RGB", (40, 40), (0, 0, 200))
assert sel.compare(a, b, "shoes", "a shoe").winner in "AB"
assert sel.compare(a, b, "shoes", "a shoe", explain=True).rationale is not None
print("ok")
"""


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _run(cmd: list[str], tmp_path: Path) -> tuple[Path, Path]:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORT_", "HF_"))}
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1", XDG_CACHE_HOME=str(home / ".cache"))
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
    return home, cwd


def test_compare_and_explain_touch_no_network_and_leave_home_empty(tiny_export, tmp_path):
    before = _files(tiny_export)
    home, cwd = _run([sys.executable, "-c", RUN, str(tiny_export)], tmp_path)
    assert list(home.iterdir()) == [] and list(cwd.iterdir()) == []  # no ~/.cache/Microsoft/..., no .onnxruntime
    assert _files(tiny_export) == before


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (apt-get install strace) to watch system calls")
def test_no_connect_and_no_write_outside_its_folders_under_strace(tiny_export, tmp_path):
    """What the Python guard cannot see (ONNX Runtime's C++ telemetry client): every connect() and every file
    opened for writing, from the kernel's side."""
    log = tmp_path / "strace.log"
    _run(["strace", "-f", "-e", "trace=connect,openat,socket", "-o", str(log), sys.executable, "-c", RUN, str(tiny_export)], tmp_path)
    calls = log.read_text().splitlines()
    assert not [c for c in calls if re.search(r"\b(connect|socket)\(", c)], "the runtime opened a socket"
    writes = [c for c in calls if re.search(r"openat\(.*O_(WRONLY|RDWR|CREAT)", c) and not re.search(r"= -1 E", c)]
    outside = [c for c in writes if not re.search(r'"/dev/(null|tty|shm/)', c)]
    assert not outside, outside[:5]
