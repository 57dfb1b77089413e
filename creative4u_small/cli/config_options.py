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


def _element(kind):
    """``X`` of a ``tuple[X, ...]`` field (given on the command line comma-separated), else None."""
    return typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else None


def _split(text: str, cast) -> tuple:
    try:
        return tuple(cast(x.strip()) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of {cast.__name__} values (e.g. 1,8,32)") from None


def _param(config, dotted: str, required: bool) -> tuple[inspect.Parameter, object]:
    """The keyword parameter of one config field, and the element type it is split into (a tuple field) or None."""
    owner, name = _owner(config, dotted)
    kind, cast = typing.get_type_hints(owner)[name], None
    default = option(owner, name, required=required)
    if (cast := _element(kind)) is not None:
        kind = str
        default = typer.Option(",".join(map(str, default_of(owner, name))), flag_of(owner, name), help=help_of(owner, name) + " Comma-separated.")
    return inspect.Parameter(dotted.replace(".", "__"), inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default), cast


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
    (``a.b`` for field ``b`` of the nested config ``a``; a tuple field comma-separated), spelled as the config's
    ``flag_of``; ``fn`` receives the built config."""
    params, casts = {}, {}
    for dotted in fields:
        params[dotted], casts[dotted] = _param(config, dotted, dotted in required)

    def decorate(fn):
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in inspect.signature(fn).parameters.values()
               if p.name != "cfg"]
        own_hints = {k: v for k, v in typing.get_type_hints(fn).items() if k not in ("cfg", "return")}

        @functools.wraps(fn)
        def command(**kw):
            values = {dotted: kw.pop(p.name) for dotted, p in params.items()}
            cfg = _build(config, {k: v if casts[k] is None else _split(v, casts[k]) for k, v in values.items()})
            return fn(cfg, **kw)

        signature = [p.replace(annotation=own_hints.get(p.name, p.annotation)) for p in own] + list(params.values())
        command.__signature__ = inspect.Signature(signature)
        command.__annotations__ = {p.name: p.annotation for p in signature}
        return command

    return decorate
