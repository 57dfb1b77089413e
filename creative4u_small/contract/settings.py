"""Stage config fields declared once: each default and help text lives in its frozen dataclass.

``setting`` declares a field with its help; ``help_of`` and ``default_of`` read them back, for
``--help``, reports and the CLI (``cli.common.option`` builds a typer option from a field), so no
command re-types a default or a help text.
"""

from __future__ import annotations

from dataclasses import MISSING, field


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
