"""Stage config fields declared once: each default, help text and command-line flag lives with its frozen dataclass.

``setting`` declares a field with its help; ``help_of``, ``default_of`` and ``flag_of`` read them back, for
``--help``, reports and the CLI (``cli.config_options.from_config`` builds typer options from the fields), and
``command_line`` turns a config back into the flags that make it, so a program that runs a command (the
quickstart) builds its argv from the stage's own config. A config class may spell some flags its own way in a
``FLAGS`` class attribute (``{"model": "--student"}``; a bool's pair as ``"--fuse/--no-fuse"``).
"""

from __future__ import annotations

from dataclasses import MISSING, field, fields, is_dataclass
from pathlib import Path


def setting(default=MISSING, help: str = "", **kw):
    """A dataclass field whose help text is kept in its metadata."""
    if not help:
        raise ValueError("every setting needs a help text")
    if default is not MISSING:
        kw["default"] = default
    return field(metadata={"help": help}, **kw)


def help_of(cls, name: str) -> str:
    """The help text of ``cls``'s field ``name``."""
    return cls.__dataclass_fields__[name].metadata["help"]


def default_of(cls, name: str):
    """The default of ``cls``'s field ``name`` (MISSING for a required field)."""
    f = cls.__dataclass_fields__[name]
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else MISSING


def flag_of(cls, name: str) -> str:
    """The command-line flag of ``cls``'s field ``name``: ``cls.FLAGS[name]`` or ``--name-with-dashes``."""
    return getattr(cls, "FLAGS", {}).get(name) or "--" + name.replace("_", "-")


def command_line(cfg, names: tuple[str, ...] | None = None) -> list[str]:
    """The flags that make ``cfg`` from its class's defaults: each field in ``names`` (all by default) whose value
    differs from its default, or that has none. Bools are their flag (or its ``--no-`` half); tuples comma-joined; a
    nested config (``RankConfig.selector``) its own flags, against its own class's defaults, as the CLI builds it."""
    cls, out = type(cfg), []
    for f in fields(cfg):
        if names is not None and f.name not in names:
            continue
        value, default = getattr(cfg, f.name), default_of(cls, f.name)
        if is_dataclass(value):
            out += command_line(value)
            continue
        if value == default and default is not MISSING:
            continue
        flag = flag_of(cls, f.name)
        if isinstance(value, bool):
            on, _, off = flag.partition("/")
            if not value and not off:
                raise ValueError(f"{cls.__name__}.{f.name}: {flag} cannot be turned off on the command line")
            out.append(on if value else off)
            continue
        if value is None:
            raise ValueError(f"{cls.__name__}.{f.name}: None differs from the default {default!r} and has no flag")
        text = ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value) if isinstance(value, (str, int, float, Path)) else None
        if text is None:
            raise ValueError(f"{cls.__name__}.{f.name}: a {type(value).__name__} has no command-line form")
        out += [flag.partition("/")[0], text]
    return out
