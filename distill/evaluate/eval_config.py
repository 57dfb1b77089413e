"""Settings of `c4u eval`."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract.settings import setting

FORMATS = ("auto", "student", "teacher")


@dataclass(frozen=True)
class EvalConfig:
    """One model judged on one pairs file: verdicts in both orders, and optionally its generated rationales."""

    model: str = setting(help="Teacher or student checkpoint folder.")
    pairs: str = setting(help="Pairs JSONL to evaluate on.")
    out: str | None = setting(None, "Also write the JSON report to this file.")
    generate: int = setting(0, "Also generate outputs for the first N pairs (slow) and parse them.")
    max_new_tokens: int = setting(256, "Generation length for --generate.")
    format: str = setting("auto", "Output format for --generate parsing: auto (student for a distilled folder), student or teacher.")
    batch_size: int = setting(16, "Pairs per batch.")

    def __post_init__(self):
        for name in ("model", "pairs"):
            if not getattr(self, name):
                raise ValueError(f"{name} is required")
        if self.generate < 0:
            raise ValueError(f"generate must be >= 0, got {self.generate}")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be at least 1")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
