"""What on-prem tooling embeds (the runtime, the server, the client) must not pull in torch or transformers."""

import subprocess
import sys

import pytest

# every module of these packages is imported, so a new one cannot slip past the check
PACKAGES = {"runtime": ["creative4u_small.runtime"],
            "serve": ["creative4u_small.serve"]}
MODULES = {"runtime": ["creative4u_small.protocol", "creative4u_small.images", "creative4u_small.pairs",
                       "creative4u_small.cpu_info", "creative4u_small.verdict_prob", "creative4u_small.cli.runtime"],
           "serve": ["creative4u_small.client", "creative4u_small.cli.serve"]}


@pytest.mark.parametrize("part", sorted(PACKAGES))
def test_import_is_torch_free(part):
    code = (
        "import importlib, pkgutil, sys\n"
        f"names = {MODULES[part]!r}\n"
        f"for pkg in {PACKAGES[part]!r}:\n"
        "    mod = importlib.import_module(pkg)\n"
        "    names += [pkg + '.' + m.name for m in pkgutil.iter_modules(mod.__path__)]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "assert len(names) > 8, names\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, (bad, names)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
