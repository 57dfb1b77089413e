"""Every `c4u` command answers --help, and the CLI itself never loads torch."""

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from creative4u_small.cli import app


def _commands(cmd, path=()):
    """(path, is_group) for every command; typer vendors its own click, so groups are found by duck type."""
    subs = getattr(cmd, "commands", None)
    yield path, subs is not None
    for name, sub in (subs or {}).items():
        yield from _commands(sub, path + (name,))


TREE = list(_commands(typer.main.get_command(app)))
COMMANDS = [p for p, _ in TREE]
LEAVES = [p for p, group in TREE if not group]


def test_every_command_is_found():
    assert {"data", "model", "teacher", "distill", "eval", "label", "export", "select", "rank", "bench", "quickstart"} <= {
        p[0] for p in COMMANDS if p}
    assert ("teacher", "sft") in LEAVES and ("data", "validate") in LEAVES


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "c4u")
def test_help(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_leaf_commands_show_an_example(path):
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


def test_command_options_come_from_the_config_dataclass():
    from dataclasses import dataclass

    from creative4u_small.cli.config_options import from_config
    from creative4u_small.contract.settings import setting

    @dataclass(frozen=True)
    class Cfg:
        name: str = setting(help="The name.")
        size: int = setting(3, "How many of them.")
        fast_mode: bool = setting(False, "Go fast.")
        sizes: tuple[int, ...] = setting((1, 2), "Sizes to try.")
        FLAGS = {"fast_mode": "--fast/--slow"}

    seen = []

    @from_config(Cfg, ("name", "size", "fast_mode", "sizes"))
    def cmd(cfg: Cfg, extra: str = typer.Option("x", "--extra", help="Not a config field.")):
        seen.append((cfg, extra))

    app = typer.Typer()
    app.command()(cmd)
    runner = CliRunner()
    assert runner.invoke(app, ["--name", "a", "--fast"]).exit_code == 0
    assert runner.invoke(app, ["--name", "b", "--size", "5", "--extra", "y", "--sizes", "4, 8"]).exit_code == 0
    assert seen == [(Cfg("a", 3, True), "x"), (Cfg("b", 5, False, (4, 8)), "y")]  # a tuple field: comma-separated
    assert runner.invoke(app, ["--size", "5"]).exit_code == 2  # a field without a default is a required option
    assert runner.invoke(app, ["--name", "a", "--size", "many"]).exit_code == 2  # the field's type is the option's
    help_text = runner.invoke(app, ["--help"]).output
    assert "How many of them." in help_text and "--fast" in help_text and "--slow" in help_text and "Not a config" in help_text
    assert "Sizes to try. Comma-separated." in help_text and "1,2" in help_text
    with pytest.raises(ValueError, match="'4,x' is not a comma-separated list of int values"):
        runner.invoke(app, ["--name", "c", "--sizes", "4,x"], catch_exceptions=False)


@pytest.mark.parametrize("argv, message", [
    (["data", "synth", "--n", "0", "--out", "x"], "n must be at least 1"),
    (["data", "synth", "--out", "x", "--image-size", "16"], "image_size must be at least 32"),
    (["model", "init", "--preset", "huge", "--out", "x"], "unknown preset 'huge'; choose one of: tiny"),
    (["rank", "x.png", "--export", "x", "--top-k", "-1"], "top_k must be 0 or more"),
    (["bench", "--export", "x", "--batch-sizes", "1,many"], "'1,many' is not a comma-separated list of int values"),
], ids=["synth-n", "synth-size", "init-preset", "rank-top-k", "bench-sizes"])
def test_stage_settings_are_checked_by_their_config(argv, message, tmp_path):
    result = CliRunner().invoke(app, [a if a != "x" else str(tmp_path / "x") for a in argv])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
