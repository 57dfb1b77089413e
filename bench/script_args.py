"""A benchmark script's command line, built from its settings dataclass: each flag's default and help are written
once, with ``contract.settings.setting``, as the stage configs are for `c4u`.

A field's flag is ``--field-name`` unless the class's ``FLAGS`` spells it otherwise (a bool as ``--on/--off`` or
``--on``); a tuple field takes a comma-separated list, or repeated flags when its name is in ``REPEATED``; ``CHOICES``
limits a field's values. Invalid settings (the dataclass raises ValueError) are a usage error naming the fix.
"""

from __future__ import annotations

import argparse
import json
import typing
from dataclasses import MISSING, asdict, fields

from creative4u_small.contract.settings import default_of, flag_of, help_of


def _plain(kind):
    """``X`` of ``X | None``."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if typing.get_origin(kind) is not tuple and args else kind


def _comma_separated(cast):
    def parse(text: str) -> tuple:
        try:
            return tuple(cast(x.strip()) for x in text.split(",") if x.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {cast.__name__} values") from None

    parse.__name__ = f"comma-separated {cast.__name__}"
    return parse


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The script's docstring as written, each flag's default after its help."""


def parser(cls, doc: str) -> argparse.ArgumentParser:
    """The argparse parser of ``cls``'s fields, ``doc`` as its description."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=_Formatter)
    hints, choices, repeated = typing.get_type_hints(cls), getattr(cls, "CHOICES", {}), getattr(cls, "REPEATED", ())
    for f in fields(cls):
        flag, default, kind = flag_of(cls, f.name), default_of(cls, f.name), _plain(hints[f.name])
        kw: dict = {"dest": f.name, "help": help_of(cls, f.name)}
        if kind is bool:
            on, _, off = flag.partition("/")
            ap.add_argument(on, action="store_true", default=default, **kw)
            if off:
                ap.add_argument(off, action="store_false", dest=f.name, help=f"The opposite of {on}.")
            continue
        if typing.get_origin(kind) is tuple:
            cast = typing.get_args(kind)[0]
            kw.update({"type": cast, "action": "append"} if f.name in repeated else {"type": _comma_separated(cast)})
        else:
            kw["type"] = kind
        if f.name in choices:
            kw["choices"] = choices[f.name]
        kw.update({"required": True} if default is MISSING else {"default": None if f.name in repeated else default})
        ap.add_argument(flag, **kw)
    return ap


def parse(cls, doc: str, argv: list[str] | None = None):
    """``cls`` from the command line (``argv``, default ``sys.argv[1:]``)."""
    ap = parser(cls, doc)
    values = vars(ap.parse_args(argv))
    for name in getattr(cls, "REPEATED", ()):
        values[name] = tuple(values[name]) if values[name] is not None else default_of(cls, name)
    try:
        return cls(**values)
    except ValueError as e:
        ap.error(str(e))


def run_script(cls, measure, doc: str, argv: list[str] | None = None) -> dict:
    """Parse ``cls`` from the command line, ``measure`` it, print the result as the one JSON line last."""
    result = measure(parse(cls, doc, argv))
    print(json.dumps(result))
    return result


def require_subset(name: str, values, allowed) -> None:
    """Refuse (ValueError) any of ``values`` not in ``allowed``, naming them and the choices."""
    unknown = set(values) - set(allowed)
    if unknown:
        raise ValueError(f"unknown {name} {sorted(unknown)}; choose from {', '.join(allowed)}")


def settings_dict(cfg) -> dict:
    """``cfg`` as text values, as the command line spells them (tuples comma-joined), for a report's ``args``."""
    return {k: ",".join(map(str, v)) if isinstance(v, tuple) else str(v) for k, v in asdict(cfg).items()}
