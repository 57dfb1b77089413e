"""What on-prem tooling embeds must not pull in torch or transformers when it runs: every module of the runtime,
the server, batch jobs and the contract and scale layers under them, imported in a fresh interpreter; nor may the
benchmarks (`c4u bench` and the scripts load torch only inside the functions that measure PyTorch models). (Which
package may import which is
import-linter's layers contract in pyproject.toml; this checks what actually loads.)"""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["creative4u_small.runtime", "creative4u_small.serve", "creative4u_small.batch",
                                     "creative4u_small.scale", "creative4u_small.contract", "creative4u_small.bench"])
def test_every_module_imports_without_torch(package):
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "names = [pkg.__name__ + '.' + m.name for m in pkgutil.iter_modules(pkg.__path__)]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "assert len(names) >= 5, names\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, (bad, names)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
