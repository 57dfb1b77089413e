"""One tiny export (fp32 + INT8, decoder graphs) per test session, built with `c4u export`'s function."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_export(tiny_model_dir, tmp_path_factory):
    """Read-only: copy it (``shutil.copytree``) before tampering with files."""
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    out = tmp_path_factory.mktemp("exports") / "tiny"
    run_export(ExportConfig(model=tiny_model_dir, out=out, int8=True, calib_pairs=12))
    return out


@pytest.fixture(scope="session")
def tiny_selector(tiny_export):
    from creative4u_small.runtime import Selector

    return Selector.load(tiny_export, backend="cpu", threads=1)


@pytest.fixture(scope="session")
def synth_pairs(synth_pairs_file):
    from creative4u_small.pairs import load_pairs

    return load_pairs(synth_pairs_file)
