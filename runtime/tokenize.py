"""Judge prompt ids from the export's ``tokenizer.json`` and the manifest's fixed prompt pieces.

No chat template, no Jinja, no transformers: the manifest holds the prompt as token segments,
slots and image blocks (``export.prompt_spec`` verified at export time that assembling them
equals the scorer's tokenisation); only the query and title are tokenised here, each cut to the
manifest's token budget at a token boundary, so the judge's sequence stays bounded whatever text
a caller sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.runtime.manifest import TOKENIZER_FILE, ManifestError, PromptSpec


class TextBudgetError(ValueError):
    """A query or title over its token budget where the caller asked for refusal, not truncation."""


@dataclass
class JudgePrompt:
    """The judge prompt ids of one (query, title), and which slots were cut: name -> {"tokens", "kept"}."""

    ids: list[int]
    truncated: dict[str, dict[str, int]] = field(default_factory=dict)


class PromptTokenizer:
    """Thread-safe: ``tokenizers.Tokenizer.encode`` keeps no per-call state."""

    def __init__(self, tokenizer, spec: PromptSpec):
        self.tokenizer, self.spec = tokenizer, spec
        self._special = {spec.image_token_id, spec.pad_token_id, *spec.eos_token_ids}

    @classmethod
    def from_export(cls, export_dir: Path, spec: PromptSpec) -> "PromptTokenizer":
        from tokenizers import Tokenizer

        path = Path(export_dir) / TOKENIZER_FILE
        if not path.is_file():
            raise ManifestError(f"{path}: not found; copy the whole export folder or re-export with `c4u export`")
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as e:  # noqa: BLE001 - tokenizers raises plain Exception on a bad file
            raise ManifestError(f"{path}: not a readable tokenizers file ({e}); re-export with `c4u export`") from None
        return cls(tok, spec)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids) if text else []

    @property
    def budgets(self) -> dict[str, int]:
        return {name: self.spec.slot_budget(name) for name in protocol.SLOTS}

    def prompt(self, query: str | None, title: str | None, strict: bool = False) -> JudgePrompt:
        """Prompt + ``<answer>`` ids for one pair. A slot over its budget is cut to it (``strict``: TextBudgetError);
        a slot that smuggles special tokens is refused."""
        slot_ids, truncated = {}, {}
        for name, value in zip(protocol.SLOTS, (query, title)):
            ids = self.encode(protocol.slot(value))
            if self._special.intersection(ids):
                raise ValueError(f"{name} {protocol.echo(value)} contains a special token (such as <image>); remove it")
            budget = self.spec.slot_budget(name)
            if len(ids) > budget:
                if strict:
                    raise TextBudgetError(f"{name}: {len(ids)} tokens, above this model's budget of {budget}; shorten it "
                                          "(or let it be truncated)")
                truncated[name] = {"tokens": len(ids), "kept": budget}
                ids = ids[:budget]
            slot_ids[name] = ids
        return JudgePrompt(self.spec.assemble(slot_ids), truncated)

    def judge_ids(self, query: str | None, title: str | None) -> list[int]:
        """``prompt(query, title).ids``: the ids the judge sees (each slot within its budget)."""
        return self.prompt(query, title).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)
