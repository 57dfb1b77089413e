"""What the Selector answers (CompareResult, RankResult) and what it takes besides images (Frame, keyed by content)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from creative4u_small.contract.images import ImageError
from creative4u_small.runtime import explain, tournament
from creative4u_small.runtime import manifest as mf


@dataclass
class CompareResult:
    winner: str  # "A" or "B"
    p_a: float  # ½[p_AB(A) + p_BA(A)]
    p_a_orders: tuple[float, float]  # P(A wins) shown as (A, B) and as (B, A)
    consistent: bool  # both orders pick the same creative
    logits: tuple[tuple[float, float], ...]  # verdict logits (A, B) per order row
    rationale: str | None = None
    timings_ms: dict = field(default_factory=dict)
    explanation: explain.Explanation | None = None  # the rationale parsed into protocol lines
    truncated: dict = field(default_factory=dict)  # slot -> {"tokens", "kept"} where query/title exceeded the budget

    def to_dict(self) -> dict:
        return {"winner": self.winner, "p_a": self.p_a, "p_a_orders": list(self.p_a_orders), "consistent": self.consistent,
                "rationale": self.rationale, "explanation": self.explanation.to_dict() if self.explanation else None,
                "truncated": self.truncated, "timings_ms": self.timings_ms}


@dataclass
class RankResult:
    order: list[int]  # indices into the input list, best first (top_k of them)
    scores: list[float]  # Bradley–Terry log-strength per input image
    comparisons: list[tournament.Comparison]
    strategy: str
    images_encoded: int  # vision encodes this call needed (cache hits excluded)
    timings_ms: dict = field(default_factory=dict)
    rounds: int = 0  # schedule rounds, each one batched judge call
    truncated: dict = field(default_factory=dict)  # slot -> {"tokens", "kept"} where query/title exceeded the budget

    def to_dict(self, names: list[str] | None = None) -> dict:
        label = (lambda i: names[i]) if names else (lambda i: i)
        return {
            "order": [label(i) for i in self.order],
            "scores": {str(label(i)): s for i, s in enumerate(self.scores)},
            "comparisons": [{"a": label(c.i), "b": label(c.j), "p_a": c.p_i, "phase": c.phase} for c in self.comparisons],
            "strategy": self.strategy, "images_encoded": self.images_encoded, "rounds": self.rounds,
            "truncated": self.truncated, "timings_ms": self.timings_ms,
        }


@dataclass(frozen=True)
class Frame:
    """A creative already decoded and preprocessed (``Selector.frame``): its content key and [3, S, S] pixels.

    A server turns each upload into a Frame as it arrives, so a request holds a few MB per image
    instead of the decoded picture."""

    key: str
    pixels: np.ndarray


def content_key(src) -> str:
    """sha256 of an image's bytes (file content, raw bytes, or a PIL image's mode, size and pixels)."""
    if isinstance(src, Frame):
        return src.key
    h = hashlib.sha256()
    if isinstance(src, Image.Image):
        h.update(f"{src.mode}:{src.size}:".encode())
        h.update(src.tobytes())
    elif isinstance(src, (bytes, bytearray, memoryview)):
        h.update(bytes(src))
    else:
        path = Path(src)
        if not path.is_file():
            raise ImageError(f"{path}: image file not found")
        return mf.sha256_file(path)
    return h.hexdigest()
