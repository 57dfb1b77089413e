"""Schemathesis, a property-based API tester, against the server's own /openapi.json: every operation, with the token."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TOKEN, TOKEN_ENV, ServerProcess

HERE = Path(__file__).parent


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_breach(serve_export, tmp_path):
    srv = ServerProcess(serve_export, tmp_path / "serve.log", "--api-key-env", TOKEN_ENV, "--max-rank-images", "8", env={TOKEN_ENV: TOKEN})
    srv.wait_ready()
    try:
        st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
        result = subprocess.run([st, "--config-file", str(HERE / "schemathesis.toml"), "run", f"{srv.url}/openapi.json",
                                 "-H", f"Authorization: Bearer {TOKEN}", "--max-examples", "60", "--workers", "1", "--seed", "0"],
                                capture_output=True, text=True, timeout=1500, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(HERE)})
    finally:
        srv.stop()
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.split("SUMMARY")[-1]
    assert '"status": 500' not in srv.log_path.read_text()
