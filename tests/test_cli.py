"""Every `c4u` command answers --help, and the CLI itself never loads torch."""

import subprocess
import sys

import click
import pytest
import typer
from typer.testing import CliRunner

from creative4u_small.cli import app


def _commands(cmd: click.Command, path=()):
    yield path
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, path + (name,))


COMMANDS = list(_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "c4u")
def test_help(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_leaf_commands_show_an_example():
    leaves = [p for p in COMMANDS if p and not isinstance(typer.main.get_command(app).get_command(None, p[0]), click.Group) or len(p) > 1]
    for path in leaves:
        out = CliRunner().invoke(app, [*path, "--help"]).output
        assert "Example" in out or "example" in out, f"c4u {' '.join(path)} --help has no example"


def test_help_does_not_import_torch():
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom creative4u_small.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0\n"
        "bad = [m for m in ('torch', 'transformers', 'onnx', 'trl') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_user_errors_are_one_line_not_a_traceback(tmp_path):
    result = CliRunner().invoke(app, ["data", "validate", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "error: pairs file not found" in result.output and "Traceback" not in result.output
