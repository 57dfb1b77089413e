"""Typer options derived from a stage's config dataclass, so each default, help text and type is
written once, in the dataclass, and each field name once in the command that exposes it."""

from __future__ import annotations

import functools
import inspect
import typing

import typer

from creative4u_small.contract.settings import default_of, help_of


def option(config, name: str, *flags: str, required: bool = False, **kw):
    """A typer option whose default and help come from ``config``'s field ``name``."""
    from dataclasses import MISSING

    default = default_of(config, name)
    if required or default is MISSING:
        default = ...
    return typer.Option(default, *flags, help=kw.pop("help", help_of(config, name)), **kw)


def fields_of(config, exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every field of ``config`` in declaration order (a stage's shared fields first), but ``exclude``."""
    from dataclasses import fields

    return tuple(f.name for f in fields(config) if f.name not in exclude)


def from_config(config, fields: tuple[str, ...], flags: dict[str, str] | None = None, required: tuple[str, ...] = ()):
    """Make ``fn(cfg, **own)`` a typer command: its own parameters, then one option per config field in
    ``fields`` (``--field-name`` unless ``flags`` names it otherwise); ``fn`` receives the built config."""
    hints = typing.get_type_hints(config)
    flags = flags or {}
    made = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[name],
                              default=option(config, name, flags.get(name, "--" + name.replace("_", "-")),
                                             required=name in required))
            for name in fields]

    def decorate(fn):
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in inspect.signature(fn).parameters.values()
               if p.name != "cfg"]
        own_hints = {k: v for k, v in typing.get_type_hints(fn).items() if k not in ("cfg", "return")}

        @functools.wraps(fn)
        def command(**kw):
            cfg = config(**{name: kw.pop(name) for name in fields})
            return fn(cfg, **kw)

        params = [p.replace(annotation=own_hints.get(p.name, p.annotation)) for p in own] + made
        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate
