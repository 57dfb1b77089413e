"""Judge prefix reuse: each part of the prompt that comparisons share is run once.

Every comparison of a compare or rank call repeats the prompt's head (system text, query, title and
"Creative A:"), and every comparison with the same first creative repeats ``[head, image A]``. With the
``judge_extend`` graph, which continues a prompt from a cached key/value prefix, a call computes the head's
cache once, ``[head, image A]`` once per first creative, and then each comparison's remaining tokens only
(the image B block and the tail). Positions and masks are those of the full prompt, so the verdicts are the
full-prompt judge's (to float rounding; tested).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from creative4u_small.runtime import manifest as mf

Item = tuple  # (prompt ids, Creative A embeddings, Creative B embeddings)
PREFIX_CACHE_BYTES = 1 << 30  # [head, image A] caches one call may keep (a 256M-parameter student: ~7 MB each)


def segments(ids: list[int], spec: mf.PromptSpec) -> tuple[list[int], list[int], list[int]]:
    """(head, image A block, rest) of a judge prompt: the rest holds the image B block and the tail."""
    block = spec.image_block_ids
    start = next((i for i in range(len(ids) - len(block) + 1) if ids[i: i + len(block)] == block), None)
    if start is None:
        raise ValueError("the judge prompt holds no image block; the export's prompt spec and tokenizer disagree")
    return ids[:start], ids[start: start + len(block)], ids[start + len(block):]


class PrefixJudge:
    """Verdict logits through ``judge_extend`` for one compare or rank call; ``run(graph, feeds)`` is ``Selector.run_graph``.

    It keeps the head's cache per prompt and ``[head, image A]``'s per first creative for its lifetime (one call:
    every round of a rank), the least recently used first dropped past ``cache_bytes``.
    """

    def __init__(self, run, spec: mf.PromptSpec, dims: mf.ModelDims, per_call: int, cache_bytes: int = PREFIX_CACHE_BYTES):
        self.run, self.spec, self.layers, self.per_call = run, spec, dims.num_layers, per_call
        self.hidden, self.cache_bytes = dims.hidden_size, cache_bytes
        self.empty = np.zeros((1, dims.num_kv_heads, 0, dims.head_dim), np.float32)
        self._heads: dict[tuple, list[np.ndarray]] = {}
        self._prefixes: OrderedDict[tuple, tuple[np.ndarray, list[np.ndarray]]] = OrderedDict()  # -> (embeds, cache)
        self._bytes = 0

    def _extend(self, ids: np.ndarray, images: np.ndarray, past: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        out = self.run(mf.JUDGE_EXTEND, {"input_ids": ids, "image_embeds": images, **dict(zip(mf.past_names(self.layers), past))})
        return out[mf.JUDGE_OUTPUTS[0]].astype(np.float32), [out[n] for n in mf.present_names(self.layers)]

    def _head(self, prompt: tuple, head: list[int]) -> list[np.ndarray]:
        """The cache of the prompt's head, once per prompt (no image in it: one ignored image row)."""
        if prompt not in self._heads:
            _, self._heads[prompt] = self._extend(np.array([head], np.int64), np.zeros((1, 1, self.hidden), np.float32),
                                                  [self.empty] * (2 * self.layers))
        return self._heads[prompt]

    def _prefix(self, prompt: tuple, first: np.ndarray) -> list[np.ndarray] | None:
        hit = self._prefixes.get((prompt, id(first)))
        if hit is None or hit[0] is not first:  # the key is the array's identity: check it is still that array
            return None
        self._prefixes.move_to_end((prompt, id(first)))
        return hit[1]

    def _caches(self, prompt: tuple, head: list[int], block: list[int], firsts: list[np.ndarray]) -> list[list[np.ndarray]]:
        """The ``[head, image A block]`` cache of each first creative: the cached ones, the others computed now,
        ``per_call`` images per call; then the least recently used past ``cache_bytes`` dropped (not these)."""
        todo = list({id(f): f for f in firsts if self._prefix(prompt, f) is None}.values())
        for i in range(0, len(todo), self.per_call):
            chunk = todo[i: i + self.per_call]
            _, present = self._extend(np.array([block] * len(chunk), np.int64), np.stack(chunk),
                                      [np.repeat(t, len(chunk), axis=0) for t in self._head(prompt, head)])
            for k, first in enumerate(chunk):
                cache = [t[k: k + 1].copy() for t in present]
                self._prefixes[(prompt, id(first))] = (first, cache)
                self._bytes += sum(t.nbytes for t in cache)
        caches = [self._prefix(prompt, f) for f in firsts]
        keep = {(prompt, id(f)) for f in firsts}
        while self._bytes > self.cache_bytes and next(iter(self._prefixes)) not in keep:
            _, (_, cache) = self._prefixes.popitem(last=False)
            self._bytes -= sum(t.nbytes for t in cache)
        return caches

    def logits(self, items: list[Item], both_orders: bool = True, on_batch=None) -> np.ndarray:
        """Verdict logits [rows, 2], rows AB (and BA with ``both_orders``) per pair, as ``Selector._judge`` orders them."""
        rows = [(tuple(ids), a, b) for ids, ea, eb in items for a, b in ((ea, eb), (eb, ea))[: 2 if both_orders else 1]]
        out = np.zeros((len(rows), 2), np.float32)
        by_prompt: dict[tuple, list[int]] = {}
        for r, (prompt, _, _) in enumerate(rows):
            by_prompt.setdefault(prompt, []).append(r)
        per_call_rows = self.per_call * (2 if both_orders else 1)
        for prompt, members in by_prompt.items():
            head, block, rest = segments(list(prompt), self.spec)
            for i in range(0, len(members), per_call_rows):
                chunk = members[i: i + per_call_rows]
                caches = self._caches(prompt, head, block, [rows[r][1] for r in chunk])
                past = [np.concatenate([c[t] for c in caches]) for t in range(2 * self.layers)]
                out[chunk], _ = self._extend(np.array([rest] * len(chunk), np.int64), np.stack([rows[r][2] for r in chunk]), past)
                if on_batch:
                    on_batch(len(chunk))
        return out
