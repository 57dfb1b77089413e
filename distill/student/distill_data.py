"""Distillation examples and the collator that turns them into one judge batch (+ rationale tails).

Every pair is seen in both image orders. Rows are pair-major (AB, BA), left padded up to the
answer position exactly as ``scorer.build_judge_batch`` lays them out; with a rationale the
verdict token and the student-format tail (``</answer>`` + rationale + end of turn) follow,
right padded, so that one forward yields the verdict logits and the rationale token logits.
"""

from __future__ import annotations

from creative4u_small.contract import protocol
from creative4u_small.distill.student.losses import IGNORE_INDEX, mixed_target, order_targets
from creative4u_small.modeling.scorer import ORDERS, build_judge_batch


def kept_rationale(pair, verdict: str) -> str:
    """The teacher's rationale whose answer and Q10 are ``verdict``; "" (a verdict-only row) if none is.

    Teacher-format texts are kept whole (they are swapped for the BA order with the protocol);
    without teacher rationales a dataset CoT (``pair.rationale``) with the same verdict is used.
    A rationale for the other creative is never kept: the student writes its rationale after its
    verdict, and training it on one that argues for the other creative teaches a contradiction.
    """
    candidates = list(pair.teacher.rationales) if pair.teacher is not None else []
    if pair.rationale:
        candidates.append(pair.rationale)
    for text in candidates:
        parsed = protocol.parse_teacher(text)
        if not isinstance(parsed, protocol.ParseError) and parsed.verdict == verdict and protocol.q10_agrees(parsed):
            return text
    return ""


def rationale_for_order(text: str, order: str) -> str:
    """The rationale as it follows ``<answer>X</answer>`` in the student format, for one image order."""
    if not text:
        return ""
    parsed = protocol.parse_teacher(text)
    if isinstance(parsed, protocol.ParseError):
        return text if order == "AB" else protocol.swap_reasoning(text)
    if order == "BA":
        parsed = protocol.parse_teacher(protocol.swap_teacher_completion(text))
    return parsed.rationale


def make_examples(pairs, label_weight: float = 0.0, with_rationale: bool = True) -> list[dict]:
    """One plain dict per pair: images, prompt slots, P(Creative A wins) target, verdict, rationale."""
    out = []
    for p in pairs:
        p_teacher = p.teacher.p_a if p.teacher is not None else None
        verdict = p.teacher.verdict if p.teacher is not None else p.label
        out.append(
            {
                "id": p.id,
                "image_a": str(p.image_a),
                "image_b": str(p.image_b),
                "query": p.query,
                "title": p.title,
                "target_a": mixed_target(p_teacher, p.label, label_weight),
                "verdict": verdict,
                "rationale": kept_rationale(p, verdict) if with_rationale else "",
            }
        )
    return out


class DistillCollator:
    """Examples -> tensors for ``VerdictDistillModule.forward``; images decoded once per batch."""

    def __init__(self, processor, verdict_ids: tuple[int, int], with_rationale: bool, max_rationale_tokens: int = 256):
        self.processor = processor
        self.verdict_ids = verdict_ids
        self.with_rationale = with_rationale
        self.max_rationale_tokens = max_rationale_tokens
        tok = processor.tokenizer
        self._end = tok.eos_token or ""
        self._prefix = {v: self._ids(protocol.ANSWER_OPEN + v) for v in protocol.VERDICTS}

    def _ids(self, text: str) -> list[int]:
        return self.processor.tokenizer(text, add_special_tokens=False)["input_ids"]

    def tail_ids(self, verdict: str, rationale: str) -> list[int]:
        """Token ids after ``<answer>X``: ``</answer>``, the rationale and the end-of-turn token."""
        ids = self._ids(protocol.student_completion(verdict, rationale) + self._end)
        prefix = self._prefix[verdict]
        if ids[: len(prefix)] != prefix:
            raise ValueError(f"the tokenizer merges {protocol.ANSWER_OPEN}{verdict} with what follows; it cannot be a student")
        return ids[len(prefix):][: self.max_rationale_tokens]

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        items = [(e["image_a"], e["image_b"], e["query"], e["title"]) for e in examples]
        jb = build_judge_batch(self.processor, items, ORDERS)
        batch = {
            "input_ids": jb.input_ids,
            "attention_mask": jb.attention_mask,
            "position_ids": jb.position_ids,
            "pixel_values": jb.pixel_values,
            "pixel_attention_mask": jb.pixel_attention_mask,
            "image_index": jb.image_index,
            "target_a": order_targets([e["target_a"] for e in examples], ORDERS),
        }
        if not self.with_rationale:
            return batch
        rows = []
        for e in examples:
            for order in ORDERS:
                verdict = e["verdict"] if order == "AB" else protocol.flip_verdict(e["verdict"])
                tail = self.tail_ids(verdict, rationale_for_order(e["rationale"], order))
                rows.append(([self.verdict_ids[protocol.VERDICTS.index(verdict)]] + tail[:-1], tail))
        width = max(len(t) for _, t in rows)
        pad = self.processor.tokenizer.pad_token_id
        ext_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        ext_mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        for r, (inp, tgt) in enumerate(rows):
            ext_ids[r, : len(inp)] = torch.tensor(inp)
            ext_mask[r, : len(inp)] = 1
            labels[r, : len(tgt)] = torch.tensor(tgt)
        mask = torch.cat([jb.attention_mask, ext_mask], 1)
        batch.update(
            input_ids=torch.cat([jb.input_ids, ext_ids], 1),
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            tail_labels=labels,
        )
        return batch


def slot_tokens(pairs, tokenizer) -> dict[str, int]:
    """The longest query and title of ``pairs`` in tokens, as the judge prompt holds them: `c4u export` raises the
    runtime's text budget to it (``export.prompt_spec.slot_budgets``)."""
    def length(text) -> int:
        return len(tokenizer(protocol.slot(text), add_special_tokens=False)["input_ids"]) if protocol.slot(text) else 0

    return {name: max((length(getattr(p, name)) for p in pairs), default=0) for name in protocol.SLOTS}
