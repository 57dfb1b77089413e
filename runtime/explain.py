"""The on-demand rationale: greedy decoding with the KV-cache decoder graphs.

The student writes ``<answer>X</answer>`` first and its rationale after, so the prefill over the
judge prompt (which ends in ``<answer>``) is followed by forced tokens — the verdict the selector
reported and ``</answer>`` — and then greedy steps until an end token or the length cap. Forcing
the reported verdict keeps the rationale about the decision the caller actually got.

``explanation`` reads the decoded text with the protocol's strict parser, so a caller gets the
protocol lines as data (or a clear ``parsed=False`` with the reason and the raw text), never a
guess from malformed output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from creative4u_small.contract import protocol
from creative4u_small.runtime import manifest as mf


@dataclass(frozen=True)
class Explanation:
    """A decoded rationale: the protocol lines (Q1–Q10) and free reasoning, or why it did not parse."""

    text: str
    verdict: str
    parsed: bool
    answers: dict[str, str] = field(default_factory=dict)
    reasoning: str = ""
    error: str | None = None

    @property
    def q10_matches_verdict(self) -> bool | None:
        return self.answers.get("Q10") == self.verdict if self.parsed else None

    def rows(self) -> list[tuple[str, str, str]]:
        """(question key, label, answer) in protocol order; empty when unparsed."""
        return [(q.key, q.label, self.answers[q.key]) for q in protocol.QUESTIONS if q.key in self.answers]

    def to_dict(self) -> dict:
        return {"parsed": self.parsed, "verdict": self.verdict, "protocol": dict(self.answers) if self.parsed else None,
                "q10_matches_verdict": self.q10_matches_verdict, "reasoning": self.reasoning, "error": self.error,
                "text": self.text}


def explanation(text: str, verdict: str) -> Explanation:
    """Parse the rationale decoded after ``<answer>{verdict}</answer>`` (strict: every line Q1–Q10)."""
    parsed = protocol.parse_strict(protocol.student_completion(verdict) + "\n" + text, "student")
    if isinstance(parsed, protocol.ParseError):
        return Explanation(text, verdict, False, error=f"unparsed: {parsed.reason}")
    return Explanation(text, verdict, True, dict(parsed.answers), parsed.reasoning)


class CachedDecoder:
    """The KV-cache decoder graphs: a prefill over the prompt, then one step per token; the cache goes in and out of
    each step as tensors. One instance decodes one batch of rows (it holds their cache)."""

    def __init__(self, prefill, step, num_layers: int):
        self.prefill_graph, self.step_graph, self.num_layers = prefill, step, num_layers
        self.past: list[np.ndarray] = []

    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Logits [rows, vocab] after the prompt rows (``input_ids``, ``attention_mask``, ``image_embeds``)."""
        out = self.prefill_graph.run(feeds)
        self.past = [out[n] for n in mf.present_names(self.num_layers)]
        return out[mf.LOGITS_OUTPUT]

    def step(self, next_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits after one more token per row (``next_ids`` [rows, 1]; the mask covers the cache and the new token)."""
        feeds = {"input_ids": next_ids, "attention_mask": attention_mask, **dict(zip(mf.past_names(self.num_layers), self.past))}
        out = self.step_graph.run(feeds)
        self.past = [out[n] for n in mf.present_names(self.num_layers)]
        return out[mf.LOGITS_OUTPUT]


def greedy_decode(decoder, feeds: dict[str, np.ndarray], forced: list[list[int]], spec: mf.PromptSpec,
                  max_new_tokens: int, min_new_tokens: int = 0) -> list[list[int]]:
    """Tokens after the forced prefix, per row; ``decoder`` has ``prefill(feeds)`` and ``step(ids, mask)``.

    ``feeds`` are the left-padded judge rows; ``forced[r]`` is the prefix row r must emit first (equal lengths
    across rows); the end and pad tokens are ``spec``'s. Before ``min_new_tokens`` tokens the end tokens are masked
    out, as transformers' ``min_new_tokens`` does, so benchmarks decode equal lengths.
    """
    eos_ids, pad_id = set(spec.eos_token_ids), spec.pad_token_id
    mask = feeds["attention_mask"]
    rows = mask.shape[0]
    if len({len(f) for f in forced}) > 1:
        raise ValueError("forced prefixes must have equal lengths")
    logits = decoder.prefill(feeds)
    generated: list[list[int]] = [[] for _ in range(rows)]
    done = np.zeros(rows, dtype=bool)
    n_forced = len(forced[0]) if forced else 0
    for t in range(n_forced + max_new_tokens):
        if t < n_forced:
            nxt = np.array([f[t] for f in forced], dtype=np.int64)
        else:
            if t - n_forced < min_new_tokens and eos_ids:
                logits = logits.copy()
                logits[:, sorted(eos_ids)] = -np.inf
            nxt = logits.argmax(-1).astype(np.int64)
            for r in range(rows):
                if done[r]:
                    nxt[r] = pad_id
                elif int(nxt[r]) in eos_ids:
                    done[r] = True
                else:
                    generated[r].append(int(nxt[r]))
            if done.all() or t == n_forced + max_new_tokens - 1:
                break
        mask = np.concatenate([mask, np.ones((rows, 1), dtype=mask.dtype)], axis=1)
        logits = decoder.step(nxt[:, None], mask)
    return generated
