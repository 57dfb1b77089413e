"""Judge prompt ids from the export's ``tokenizer.json`` and the manifest's fixed prompt pieces.

No chat template, no Jinja, no transformers: the manifest holds the prompt as token segments,
slots and image blocks (``export.prompt_spec`` verified at export time that assembling them
equals the scorer's tokenisation); only the query and title are tokenised here.
"""

from __future__ import annotations

from pathlib import Path

from creative4u_small.runtime.manifest import TOKENIZER_FILE, ManifestError, PromptSpec


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

    def judge_ids(self, query: str | None, title: str | None) -> list[int]:
        """Prompt + ``<answer>`` ids for one pair; a slot that smuggles special tokens is refused."""
        for name, value in (("query", query), ("title", title)):
            if value and self._special.intersection(self.encode(value)):
                raise ValueError(f"{name} {value!r} contains a special token (such as <image>); remove it")
        return self.spec.assemble_ids(self.encode, query, title)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)
