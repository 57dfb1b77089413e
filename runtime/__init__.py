"""Torch-free runtime: compare, rank and explain ad creatives from an export folder.

``from creative4u_small.runtime import Selector`` — the heavy parts (onnxruntime) load on first use.
"""

from __future__ import annotations

__all__ = ["Selector", "SelectorConfig", "CompareResult", "RankResult"]


def __getattr__(name: str):
    if name in ("Selector", "CompareResult", "RankResult"):
        from creative4u_small.runtime import selector

        return getattr(selector, name)
    if name == "SelectorConfig":
        from creative4u_small.runtime.selector_config import SelectorConfig

        return SelectorConfig
    raise AttributeError(f"module 'creative4u_small.runtime' has no attribute {name!r}")
