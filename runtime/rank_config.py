"""Settings of `c4u rank`: the export, the query and title every comparison is judged for, how many to return, and
the Selector that ranks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.protocol import SLOT_HELP
from creative4u_small.contract.settings import setting
from creative4u_small.runtime.selector_config import EXPORT_HELP, SelectorConfig


@dataclass(frozen=True)
class RankConfig:
    export: Path = setting(help=EXPORT_HELP)
    top_k: int = setting(0, "How many to return, best first; 0 = all.")
    query: str = setting("", SLOT_HELP["query"])
    title: str = setting("", SLOT_HELP["title"])
    selector: SelectorConfig = setting(help="The Selector that ranks (backend, precision, batching, schedule).", default_factory=SelectorConfig)

    def __post_init__(self):
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 or more, got {self.top_k}")
