"""The runtime is what on-prem tooling embeds: importing it must not pull in torch or transformers."""

import subprocess
import sys


def test_runtime_import_is_torch_free():
    code = (
        "import sys\nimport creative4u_small.runtime, creative4u_small.runtime.manifest\n"
        "import creative4u_small.protocol, creative4u_small.images, creative4u_small.pairs\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
