"""Real tokenizer files for the hub-shaped fixtures, built offline.

- Qwen (Qwen2.5-VL, Qwen3-VL): the 151,643-token byte-level BPE from ``qwen.tiktoken``, read out of the
  pinned ``dashscope`` wheel that ``make test-data`` downloads into ``build/test-cache`` (the wheel is only
  a carrier of the file: nothing installs or imports it). tiktoken ships ranks, not merges, so each merge is
  recovered by replaying BPE on a token's bytes with only lower ranks allowed: it ends in exactly the
  two parts the token was merged from. The tokenizer is laid out as Qwen2's ``tokenizer.json`` is (NFC
  normaliser, Split on Qwen2's regex then ByteLevel without regex, ByteLevel decoder), followed by the
  family's added tokens at their real ids.
- SmolLM2 (SmolVLM, SmolVLM2): the real ``tokenizer.json`` of HuggingFaceTB/SmolVLM-256M-Instruct
  (Apache-2.0), vendored gzipped under ``tests/data/hub``; SmolVLM2 uses the same vocabulary and added
  tokens. ``vocab.json`` and ``merges.txt`` are written from it.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
import zipfile
from pathlib import Path

QWEN_BASE_VOCAB = 151643
# Qwen2's pre-tokenizer split: note ``\p{N}`` (one digit per piece), unlike cl100k's ``\p{N}{1,3}``.
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SMOLLM2_TOKENIZER = Path(__file__).parent / "data" / "hub" / "SmolVLM-256M-Instruct" / "tokenizer.json.gz"
TEST_CACHE = Path(__file__).resolve().parents[1] / "build" / "test-cache"
QWEN_TIKTOKEN_MEMBER = "dashscope/resources/qwen.tiktoken"


def qwen_tiktoken_path() -> Path:
    """``qwen.tiktoken`` read out of the dashscope wheel in ``build/test-cache`` (``make test-data``), kept beside it."""
    wheels = sorted(TEST_CACHE.glob("dashscope-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"{TEST_CACHE} holds no dashscope wheel (it carries qwen.tiktoken): run `make test-data`")
    path = wheels[-1].with_suffix(".qwen.tiktoken")
    if path.is_file():
        return path
    with zipfile.ZipFile(wheels[-1]) as wheel:
        if QWEN_TIKTOKEN_MEMBER not in wheel.namelist():
            raise FileNotFoundError(f"{wheels[-1]} lacks {QWEN_TIKTOKEN_MEMBER}; delete it and run `make test-data` for the pinned wheel")
        data = wheel.read(QWEN_TIKTOKEN_MEMBER)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # whole or absent, even with test processes racing
    return path


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, which ByteLevel BPE vocabularies are written in."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


def _split_at_rank(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    parts = [bytes([b]) for b in token]
    while True:
        best, at = None, None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best):
                best, at = rank, i
        if best is None:
            return parts
        parts[at : at + 2] = [parts[at] + parts[at + 1]]


@functools.lru_cache(maxsize=1)
def qwen_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The Qwen BPE as ``tokenizers`` wants it: byte-level strings -> ids, and merges in rank order."""
    ranks: dict[bytes, int] = {}
    for line in qwen_tiktoken_path().read_bytes().splitlines():
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    if len(ranks) != QWEN_BASE_VOCAB:
        raise ValueError(f"qwen.tiktoken has {len(ranks)} tokens, expected {QWEN_BASE_VOCAB}")
    enc = _byte_to_unicode()

    def text(b: bytes) -> str:
        return "".join(enc[x] for x in b)

    vocab, merges = {}, []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        vocab[text(token)] = rank
        if len(token) > 1:
            parts = _split_at_rank(ranks, token, rank)
            if len(parts) != 2:
                raise ValueError(f"token {rank} ({token!r}) is not one merge of two lower-ranked tokens")
            merges.append((text(parts[0]), text(parts[1])))
    return vocab, merges


def _write_vocab_merges(out: Path, vocab: dict[str, int], merges) -> None:
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    lines = ["#version: 0.2"] + [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in merges]
    (out / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_qwen_tokenizer(out: Path, added_tokens: dict[int, tuple[str, bool]]) -> None:
    """tokenizer.json, vocab.json and merges.txt of a Qwen2-family checkpoint.

    ``added_tokens``: id -> (content, special), contiguous from 151643 as in the hub's tokenizer_config.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab, merges = qwen_vocab_and_merges()
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    for token_id in sorted(added_tokens):
        content, special = added_tokens[token_id]
        tok.add_tokens([AddedToken(content, special=special, normalized=False)])
        if tok.token_to_id(content) != token_id:
            got = tok.token_to_id(content)
            raise ValueError(f"added token {content!r} landed at {got}, not its real id {token_id}")
    data = json.loads(tok.to_str())
    # Qwen2's tokenizer.json spells every ByteLevel step out as no prefix space, no offset trimming, no regex.
    plain = {"add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    for part in (data["pre_tokenizer"]["pretokenizers"][1], data["post_processor"], data["decoder"]):
        part.update(plain)
    data["model"].update(continuing_subword_prefix="", end_of_word_suffix="")
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False, indent=2))
    _write_vocab_merges(out, vocab, merges)


def write_smollm2_tokenizer(out: Path) -> None:
    """The vendored SmolVLM tokenizer.json, plus vocab.json and merges.txt written from it."""
    data = gzip.decompress(SMOLLM2_TOKENIZER.read_bytes())
    (out / "tokenizer.json").write_bytes(data)
    model = json.loads(data)["model"]
    _write_vocab_merges(out, model["vocab"], model["merges"])
