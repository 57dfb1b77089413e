"""Typer options derived from a stage's config dataclass, so each default, help text, type and flag is written
once, in the dataclass, and each field name once in the command that exposes it."""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import MISSING, fields

import typer

from creative4u_small.contract.settings import default_of, flag_of, help_of


def option(config, name: str, *flags: str, required: bool = False, **kw):
    """A typer option whose default, help and (unless given) flag come from ``config``'s field ``name``."""
    default = default_of(config, name)
    if required or default is MISSING:
        default = ...
    return typer.Option(default, *(flags or (flag_of(config, name),)), help=kw.pop("help", help_of(config, name)), **kw)


def fields_of(config, exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every field of ``config`` in declaration order (a stage's shared fields first), but ``exclude``."""
    return tuple(f.name for f in fields(config) if f.name not in exclude)


def _owner(config, dotted: str):
    """(dataclass, field) that a field name like ``selector.backend`` names inside ``config``."""
    *path, name = dotted.split(".")
    for part in path:
        config = typing.get_type_hints(config)[part]
    return config, name


def _build(config, values: dict[str, object]):
    """``config`` from dotted field values: a nested config field is built from its own dotted values."""
    own = {k: v for k, v in values.items() if "." not in k}
    nested: dict[str, dict] = {}
    for k, v in values.items():
        if "." in k:
            head, rest = k.split(".", 1)
            nested.setdefault(head, {})[rest] = v
    hints = typing.get_type_hints(config)
    return config(**own, **{head: _build(hints[head], sub) for head, sub in nested.items()})


def from_config(config, fields: tuple[str, ...], required: tuple[str, ...] = ()):
    """Make ``fn(cfg, **own)`` a typer command: its own parameters, then one option per config field in ``fields``
    (``a.b`` for field ``b`` of the nested config ``a``), spelled as the config's ``flag_of``; ``fn`` receives the
    built config."""
    params = {}
    for dotted in fields:
        owner, name = _owner(config, dotted)
        params[dotted] = inspect.Parameter(dotted.replace(".", "__"), inspect.Parameter.KEYWORD_ONLY, annotation=typing.get_type_hints(owner)[name],
                                           default=option(owner, name, required=dotted in required))

    def decorate(fn):
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in inspect.signature(fn).parameters.values()
               if p.name != "cfg"]
        own_hints = {k: v for k, v in typing.get_type_hints(fn).items() if k not in ("cfg", "return")}

        @functools.wraps(fn)
        def command(**kw):
            cfg = _build(config, {dotted: kw.pop(p.name) for dotted, p in params.items()})
            return fn(cfg, **kw)

        signature = [p.replace(annotation=own_hints.get(p.name, p.annotation)) for p in own] + list(params.values())
        command.__signature__ = inspect.Signature(signature)
        command.__annotations__ = {p.name: p.annotation for p in signature}
        return command

    return decorate
