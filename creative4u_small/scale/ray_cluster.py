"""A Ray connection for a batch job: an existing cluster (``--ray-address``), or a local Ray this process starts and stops.

- Usage statistics are off: ``contract.telemetry`` sets ``RAY_USAGE_STATS_ENABLED=0`` when creative4u_small is
  imported, before ray is, and the Ray processes a job starts inherit it.
- A local Ray writes nothing under ``HOME``: its session folder (sockets, logs, spilled objects) is a fresh folder
  in the system temp dir (``RAY_TMPDIR``; /tmp where that path is too long for Unix sockets), removed when the job
  ends (or, after a kill -9, by the next job); its authentication token lives in this process
  tree's environment (``RAY_AUTH_TOKEN``) instead of ``~/.ray/auth_token``.
- A loopback address (a local Ray, or ``--ray-address 127.0.0.1:PORT``) keeps every Ray process on 127.0.0.1:
  Ray otherwise advertises the machine's outward address, found by "connecting" a UDP socket to a public one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from pathlib import Path

# Ray's switch for single-machine clusters (its default on macOS and Windows): every address is 127.0.0.1.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
LOOPBACK_HOSTS = ("localhost", "::1", "[::1]")
FOLDER_PREFIX, OWNER_FILE = "c4u-ray-", "c4u_owner_pid"
# Ray's sockets live at <folder>/ray/session_<date>_<pid>/sockets/plasma_store: with the 107-byte limit of a Unix
# socket path, the temp dir holding the folder must be short.
MAX_TEMP_PARENT = 24


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def is_loopback(address: str) -> bool:
    """True for no address (a local Ray) and for an address on this machine's loopback interface."""
    if not address or address == "local":
        return True
    host = address.split("://")[-1].rsplit(":", 1)[0]
    return host.startswith("127.") or host in LOOPBACK_HOSTS


def import_ray(address: str = ""):
    """``ray``, imported with the environment ``address`` needs (see the module doc); a clear error without the extra."""
    if "ray" not in sys.modules and is_loopback(address):
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ImportError(f"--engine ray needs the ray extra ({e.name} is missing); pip install 'creative4u-small[ray]'") from None
    return ray


@contextlib.contextmanager
def _environment(**values: str):
    """``os.environ`` with ``values`` set while the block runs, as it was after."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _remove_orphans(parent: str) -> None:
    """Session folders of local Rays whose driver was killed (kill -9 leaves no chance to remove them)."""
    for folder in Path(parent).glob(f"{FOLDER_PREFIX}*"):
        try:
            owner = int((folder / OWNER_FILE).read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue  # not ours to judge: no owner file, or a process of another user


@contextlib.contextmanager
def local_ray_env():
    """The environment of a Ray this process starts: a fresh session folder and an in-memory token; yields the folder
    (removed after, or by the next job if this process is killed). Also what a test's ``ray.cluster_utils.Cluster``
    needs to leave HOME alone."""
    parent = tempfile.gettempdir()
    parent = parent if len(parent) <= MAX_TEMP_PARENT else "/tmp"
    _remove_orphans(parent)
    folder = tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=parent)
    (Path(folder) / OWNER_FILE).write_text(str(os.getpid()))
    try:
        with _environment(RAY_TMPDIR=folder, RAY_AUTH_TOKEN=os.environ.get("RAY_AUTH_TOKEN") or secrets.token_hex(32)):
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def ray_session(address: str = "", num_cpus: float | None = None, num_gpus: float | None = None):
    """Ray connected for the block: ``address``'s cluster, the one this process is already connected to, or a local Ray
    (``num_cpus``/``num_gpus``: its logical resources) started now and stopped after. Yields a description."""
    ray = import_ray(address)
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}  # stdout stays the command's JSON
    if ray.is_initialized():
        yield describe(ray, "this process's Ray", started=False)
        return
    if address:
        ray.init(address=address, **quiet)
        try:
            yield describe(ray, address, started=False)
        finally:
            ray.shutdown()
        return
    with local_ray_env() as folder:
        ray.init(address="local", num_cpus=int(num_cpus) if num_cpus else None, num_gpus=num_gpus, include_dashboard=False, **quiet)
        try:
            yield {**describe(ray, "local", started=True), "temp_dir": folder}
        finally:
            ray.shutdown()


def describe(ray, address: str, started: bool) -> dict:
    """The cluster a job runs on: where, whether the job started it, its nodes and resources."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    return {"address": address, "started_here": started, "nodes": len(alive),
            "resources": {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}}


def worker_identity() -> dict:
    """Where the calling process runs (pid, host name and, inside Ray, its node id and address), and whether torch
    is loaded in it."""
    me = {"pid": os.getpid(), "host": socket.gethostname(), "torch_loaded": "torch" in sys.modules}
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        me["node"] = ray.get_runtime_context().get_node_id()
        me["node_ip"] = ray.util.get_node_ip_address()
    else:
        me["node"] = me["host"]
    return me
