"""The judge prompt as token pieces, and the preprocessing constants, for the torch-free runtime.

The runtime never renders chat templates: it concatenates the manifest's fixed token segments,
the slot values (``protocol.slot(value)`` tokenised on their own) and the image blocks. That is
only right when the tokenizer never merges across a piece boundary, so the split is verified
against the real rendering (``scorer``) on probe values and refused when it differs.
"""

from __future__ import annotations

import json
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.modeling.judge_prompt import expand_images, image_token_block, judge_text
from creative4u_small.runtime.manifest import Preprocessing, PromptSpec

TRAINING_RECORD = "report.json"  # `c4u distill` writes the longest query and title it trained on here ("slot_tokens")

# Slot values a split must survive: empty, punctuation at both ends, unicode, digits, long.
PROBE_SLOTS = (
    ("", ""),
    ("red running shoe", "Men's waterproof trail shoe"),
    ("!!! sale ???", "(new) 50% off - buy now!"),
    ("café crème brûlée 東京 ☕", "Ünïcödé — “quoted” title…"),
    ("a" * 5 + " 12345 " + "word " * 60, "x"),
    ("  spaced   out  ", "\ttabs\nand newlines\n"),
)

_SENTINELS = {"query": "c4uslotquerysentinel", "title": "c4uslottitlesentinel"}


class PromptSplitError(ValueError):
    """The tokenizer merges across the prompt's slot or image boundaries; the runtime cannot use it."""


def _encode(tokenizer, text: str) -> list[int]:
    """Ids of ``text`` with the backend ``tokenizers`` object, exactly as the runtime will tokenise."""
    if not text:
        return []
    return list(tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids)


def judge_template_pieces(processor) -> list[tuple[str, str]]:
    """The rendered judge prompt as ("text", s) / ("slot", name) / ("image", "A"|"B") pieces."""

    text = judge_text(processor, _SENTINELS["query"], _SENTINELS["title"])
    markers = {protocol.slot(v): ("slot", k) for k, v in _SENTINELS.items()}
    markers[getattr(processor, "image_token", protocol.IMAGE_TOKEN)] = ("image", None)
    pieces: list[tuple[str, str]] = []
    images = iter(protocol.VERDICTS)
    rest = text
    while rest:
        hits = [(rest.find(m), m) for m in markers if m in rest]
        if not hits:
            pieces.append(("text", rest))
            break
        pos, marker = min(hits)
        if pos:
            pieces.append(("text", rest[:pos]))
        kind, name = markers[marker]
        pieces.append((kind, name if kind == "slot" else next(images, "?")))
        rest = rest[pos + len(marker):]
    kinds = [p for p in pieces if p[0] != "text"]
    if kinds != [("slot", "query"), ("slot", "title"), ("image", "A"), ("image", "B")]:
        raise PromptSplitError(f"the chat template renders the judge prompt's slots/images as {kinds}; "
                               "expected query, title, image A, image B once each in that order")
    return pieces


def build_prompt_spec(processor, eos_token_ids: list[int] | None = None, probes=PROBE_SLOTS) -> PromptSpec:
    """PromptSpec for ``processor``'s tokenizer, verified exact on ``probes`` against the scorer's ids."""

    tok = processor.tokenizer
    pieces = []
    for kind, value in judge_template_pieces(processor):
        if kind == "text":
            pieces.append({"ids": _encode(tok, value)})
        else:
            pieces.append({kind: value})
    block = _encode(tok, image_token_block(processor))
    image_token_id = tok.convert_tokens_to_ids(processor.image_token)
    if block.count(image_token_id) != processor.image_seq_len:
        raise PromptSplitError(f"the image block tokenises to {block.count(image_token_id)} image tokens, "
                               f"not image_seq_len={processor.image_seq_len}; the tokenizer splits {processor.image_token!r}")
    eos = list(eos_token_ids) if eos_token_ids else []
    for t in (tok.eos_token, "<end_of_utterance>", "<|im_end|>"):
        i = tok.convert_tokens_to_ids(t) if t else None
        if isinstance(i, int) and i >= 0 and i != tok.unk_token_id and i not in eos:
            eos.append(i)
    spec = PromptSpec(
        pieces=pieces,
        image_block_ids=block,
        image_token_id=int(image_token_id),
        pad_token_id=int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id),
        verdict_token_ids=list(protocol.verdict_token_ids(tok)),
        answer_close_ids=_encode(tok, protocol.ANSWER_CLOSE),
        eos_token_ids=eos,
    )
    for query, title in probes:
        check_prompt_spec(spec, processor, query, title)
    return spec


def reference_ids(processor, query: str | None, title: str | None) -> list[int]:
    """The ids ``scorer.build_judge_batch`` feeds the model for this query and title."""

    text = expand_images(processor, judge_text(processor, query, title))
    return list(processor.tokenizer(text, add_special_tokens=False)["input_ids"])


def check_prompt_spec(spec: PromptSpec, processor, query: str | None, title: str | None) -> None:
    got = spec.assemble_ids(lambda t: _encode(processor.tokenizer, t), query, title)
    want = reference_ids(processor, query, title)
    if got != want:
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise PromptSplitError(
            f"this tokenizer merges across the prompt's slot/image boundaries (query={query!r}, title={title!r}: "
            f"ids differ at position {first}); the runtime cannot assemble prompts from pieces for it — "
            "use a byte-level BPE tokenizer whose pre-tokenizer splits at whitespace (as SmolVLM's does)"
        )


def slot_budgets(model_dir: Path, floor: int) -> dict[str, int]:
    """Each slot's token budget in the runtime: ``floor``, raised to the longest slot the model was trained on
    where its training record says so (a model never saw longer text, so the budget need not be longer)."""
    budgets = {name: floor for name in protocol.SLOTS}
    record = Path(model_dir) / TRAINING_RECORD
    if record.is_file():
        seen = json.loads(record.read_text()).get("slot_tokens") or {}
        for name in protocol.SLOTS:
            if isinstance(seen.get(name), int):
                budgets[name] = max(floor, seen[name])
    return budgets


def build_preprocessing(processor) -> Preprocessing:
    """Resize/normalise constants of the processor's image processor (unsplit, square frames)."""
    ip = processor.image_processor
    if getattr(ip, "do_image_splitting", False):
        raise ValueError("the image processor splits images (do_image_splitting=True); the exported judge takes one "
                         "frame per creative — save the processor with do_image_splitting=False")
    size = (getattr(ip, "max_image_size", None) or {}).get("longest_edge") or (ip.size or {}).get("longest_edge")
    if not size:
        raise ValueError("the image processor has no max_image_size/size longest_edge; cannot fix the frame size")
    resample = ip.resample
    return Preprocessing(
        image_size=int(size),
        resample=int(getattr(resample, "value", resample)),
        rescale_factor=float(ip.rescale_factor) if ip.do_rescale else 1.0,
        image_mean=[float(x) for x in ip.image_mean],
        image_std=[float(x) for x in ip.image_std],
        do_normalize=bool(ip.do_normalize),
        longest_edge=int((ip.size or {}).get("longest_edge", size)),
    )
