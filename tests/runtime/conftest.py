"""The runtime's fixtures over the session's tiny export (``tiny_export`` lives in tests/conftest.py, shared with tests/serve)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_selector(tiny_export):
    from creative4u_small.runtime import Selector

    return Selector.load(tiny_export, backend="cpu", threads=1)


@pytest.fixture(scope="session")
def synth_pairs(synth_pairs_file):
    from creative4u_small.pairs import load_pairs

    return load_pairs(synth_pairs_file)
