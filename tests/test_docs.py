"""The docs' one diagram and one install table against the code: pyproject's extras and the commands `c4u --help` lists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import typer

from creative4u_small.cli import app

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "docs" / "index.md"
EXTRA = re.compile(r'creative4u-small\[([\w,-]+)\]')


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start: end if end > 0 else len(text)]


def table_extras(text: str) -> list[str]:
    """The extra each install-table row installs (the first `creative4u-small[...]` of its install cell)."""
    rows = [line for line in section(text, "## Install").splitlines() if line.startswith("| ") and "pip install" in line]
    return [EXTRA.search(row.split("|")[2]).group(1) for row in rows]


def pyproject_extras() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def diagram_commands(text: str) -> set[str]:
    block = text[text.index("```\n") + 4:]
    block = block[: block.index("```")]
    return set(re.findall(r"\bc4u (\w+)", block))


def help_commands() -> set[str]:
    group = typer.main.get_command(app)
    with click.Context(group) as ctx:
        return {name for name in group.list_commands(ctx) if not group.get_command(ctx, name).hidden}


def test_install_table_lists_every_extra_once():
    rows = table_extras(INDEX.read_text())
    assert len(rows) == len(set(rows)), f"docs/index.md: an extra has two rows in the install table: {sorted(rows)}"
    missing, unknown = pyproject_extras() - set(rows), set(rows) - pyproject_extras()
    assert not missing, f"docs/index.md: the install table lacks the extras {sorted(missing)} that pyproject.toml defines"
    assert not unknown, f"docs/index.md: the install table names extras {sorted(unknown)} that pyproject.toml lacks"


def test_diagram_shows_every_command():
    shown, listed = diagram_commands(INDEX.read_text()), help_commands()
    assert listed - shown == set(), f"docs/index.md: the diagram lacks `c4u {sorted(listed - shown)}` that `c4u --help` lists"
    assert shown - listed == set(), f"docs/index.md: the diagram shows `c4u {sorted(shown - listed)}`, not a command of `c4u --help`"


def test_makefile_extras_are_pyproject_extras():
    make = (ROOT / "Makefile").read_text()
    for name in ("EXTRAS", "QUICKSTART_EXTRAS"):
        value = re.search(rf"^{name} [?:]?= *(\S+)", make, re.M).group(1)
        assert set(value.split(",")) <= pyproject_extras(), f"Makefile: {name} names an extra pyproject.toml lacks"


def test_dev_extra_is_what_make_test_installs():
    make = re.search(r"^EXTRAS \?= *(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert dev == [f"creative4u-small[{make}]"], "pyproject.toml: the dev extra must be what `make test` installs (Makefile EXTRAS)"


def test_stage_times_table_is_the_quickstarts_reference_run():
    """The quickstart's estimate line scales the stage times docs/training.md shows: the same numbers, one table."""
    from creative4u_small.quickstart.config import REFERENCE_RUN

    table = section((ROOT / "docs" / "training.md").read_text(), "### Stage times")
    rows = {r.split("|")[1].strip(): float(r.split("|")[3].strip().rstrip(" s").replace(",", "")) for r in table.splitlines()
            if r.startswith("| ") and r.rstrip().endswith(" s |")}
    names = {"teacher-sft": "teacher CoT-SFT", "teacher-grpo": "teacher GRPO", "label": "labelling", "distill": "distillation", "export": "export"}
    for stage, (_, _, seconds) in REFERENCE_RUN.items():
        assert rows.get(names[stage]) == seconds, f"docs/training.md Stage times: {names[stage]} is {rows.get(names[stage])} s, the quickstart estimates from {seconds} s"
