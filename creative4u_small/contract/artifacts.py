"""Artefact folders: atomic creation, resolved config and provenance beside every output."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
import sys
import uuid
from pathlib import Path

PROVENANCE_FILE = "c4u_provenance.json"


class OutputExistsError(FileExistsError):
    pass


def check_fresh_output(out: Path, overwrite: bool, kind: str = "output") -> None:
    """Refuse a non-empty folder unless ``overwrite``: nothing already written is clobbered by accident."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"{kind} folder {out} already holds files; choose another --out or pass --overwrite")


@contextlib.contextmanager
def atomic_dir(out: Path, overwrite: bool = False):
    """Yield a temporary sibling folder; on success it replaces ``out`` in one rename.

    A crash leaves ``out`` as it was (or absent), never half-written.
    """
    out = Path(out)
    check_fresh_output(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def versions() -> dict:
    """Versions of the libraries that shape an artefact (those importable, without importing torch)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("creative4u-small", "torch", "transformers", "trl", "peft", "accelerate", "onnx", "onnxruntime", "openvino", "nncf",
                 "tokenizers", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def write_json_atomic(path: Path, data) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def write_provenance(folder: Path, stage: str, config: dict, results: dict | None = None) -> None:
    """Record the resolved config, the command line, versions and time in ``folder``."""
    write_json_atomic(
        Path(folder) / PROVENANCE_FILE,
        {
            "stage": stage,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": sys.argv,
            "versions": versions(),
            "config": config,
            "results": results or {},
        },
    )


def load_json(path: Path, fix: str, error: type[Exception] = ValueError):
    """A JSON file's content; invalid JSON is one line naming the file, the parser's complaint and ``fix``."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise error(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); {fix}") from None
