"""A benchmark script's command line comes from its settings dataclass: defaults, help, lists, switches, choices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from creative4u_small.bench.script_args import parse, parser, require_subset, settings_dict
from creative4u_small.contract.settings import setting


@dataclass(frozen=True)
class Demo:
    FLAGS = {"warm": "--warm/--no-warm", "configs": "--config"}
    REPEATED = ("configs",)
    CHOICES = {"mode": ("fast", "full")}
    export: Path = setting(help="Export folder.")
    runs: int = setting(3, "Timed runs.")
    sizes: tuple[int, ...] = setting((1, 8), "Batch sizes.")
    tolerance: float | None = setting(None, "Largest |dp_a|.")
    warm: bool = setting(True, "Warm up first.")
    verbose: bool = setting(False, "Say more.")
    configs: tuple[str, ...] = setting(("cpu:fp32",), "A configuration; repeat the flag for more.")
    mode: str = setting("fast", "How much to run.")

    def __post_init__(self):
        if self.runs < 1:
            raise ValueError(f"runs must be at least 1, got {self.runs}")


def test_defaults_types_lists_and_switches():
    assert parse(Demo, "demo", ["--export", "e"]) == Demo(export=Path("e"))
    got = parse(Demo, "demo", ["--export", "e", "--runs", "5", "--sizes", "2, 4", "--tolerance", "0.5", "--no-warm", "--verbose",
                               "--config", "a:int8", "--config", "b:fp32", "--mode", "full", "--runs", "6"])
    assert got == Demo(Path("e"), 6, (2, 4), 0.5, False, True, ("a:int8", "b:fp32"), "full")  # a flag given twice: the last wins
    assert parse(Demo, "demo", ["--export", "e", "--sizes", ""]).sizes == ()
    assert settings_dict(got)["sizes"] == "2,4" and settings_dict(got)["export"] == "e"


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: --export"),
    (["--export", "e", "--runs", "0"], "runs must be at least 1, got 0"),
    (["--export", "e", "--sizes", "1,x"], "'1,x' is not a comma-separated list of int values"),
    (["--export", "e", "--mode", "slow"], "invalid choice: 'slow'"),
])
def test_bad_settings_are_a_usage_error_naming_the_fix(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse(Demo, "demo", argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_help_shows_each_settings_help_and_default():
    text = parser(Demo, "The demo benchmark.").format_help()
    assert "The demo benchmark." in text and "Timed runs. (default: 3)" in text and "--no-warm" in text and "--config CONFIGS" in text


def test_require_subset_names_the_unknown_and_the_choices():
    require_subset("phases", ("a",), ("a", "b"))
    with pytest.raises(ValueError, match=r"unknown phases \['c'\]; choose from a, b"):
        require_subset("phases", ("a", "c"), ("a", "b"))
