"""What keeps a local Ray on loopback and out of HOME, checked without starting one (tests/batch starts real ones)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from creative4u_small.scale.ray_cluster import FOLDER_PREFIX, MAX_TEMP_PARENT, OWNER_FILE, is_loopback, local_ray_env


def test_loopback_addresses():
    assert is_loopback("") and is_loopback("127.0.0.1:6379") and is_loopback("localhost:6379") and is_loopback("ray://127.0.0.1:10001")
    assert not is_loopback("10.0.0.5:6379") and not is_loopback("head.example.com:6379")


def test_a_local_ray_environment_is_undone_and_its_folder_removed():
    before = {k: os.environ.get(k) for k in ("RAY_TMPDIR", "RAY_AUTH_TOKEN")}
    with local_ray_env() as folder:
        assert os.environ["RAY_TMPDIR"] == folder and len(os.environ["RAY_AUTH_TOKEN"]) == 64
        assert (Path(folder) / OWNER_FILE).read_text() == str(os.getpid())
    assert not Path(folder).exists()
    assert {k: os.environ.get(k) for k in before} == before


def test_the_folder_of_a_killed_driver_is_removed_by_the_next_job():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    parent = Path(tempfile.gettempdir()) if len(tempfile.gettempdir()) <= MAX_TEMP_PARENT else Path("/tmp")
    orphan, alive = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=parent)), Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=parent))
    (orphan / OWNER_FILE).write_text(gone)
    (alive / OWNER_FILE).write_text(str(os.getpid()))
    try:
        with local_ray_env():
            pass
        assert not orphan.exists() and alive.exists()
    finally:
        for folder in (orphan, alive):
            if folder.exists():
                (folder / OWNER_FILE).unlink()
                folder.rmdir()


def test_usage_statistics_are_off_before_ray_is_imported():
    code = "import creative4u_small, os; print(os.environ['RAY_USAGE_STATS_ENABLED'])"
    env = {k: v for k, v in os.environ.items() if k != "RAY_USAGE_STATS_ENABLED"}
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == "0"
