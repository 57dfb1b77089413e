"""Judge prefix reuse: the head once per call, [head, image A] once per first creative, verdicts equal the full prompt's."""

from __future__ import annotations

import numpy as np
import pytest
from openvino_support import HAVE_OPENVINO

from creative4u_small.runtime import Selector
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.prefix_judge import segments


class Recorder:
    """Records each judge_extend call's new tokens and cached length."""

    def __init__(self, graph):
        self.graph, self.calls = graph, []

    def run(self, feeds):
        self.calls.append((feeds["input_ids"].shape, feeds["past.0.key"].shape[2]))
        return self.graph.run(feeds)


def _items(pairs):
    return [(p.image_a, p.image_b, p.query, p.title) for p in pairs]


def _pair(export, backend="cpu", precision="fp32"):
    on = Selector.load(export, backend=backend, precision=precision, threads=1, batch_size=4)
    off = Selector.load(export, backend=backend, precision=precision, threads=1, batch_size=4, prefix_reuse=False)
    return on, off


def test_segments_split_the_prompt_at_image_a(tiny_selector):
    spec = tiny_selector.manifest.prompt
    ids = tiny_selector.tokenizer.judge_ids("red running shoe", "Trail shoe")
    head, block, rest = segments(ids, spec)
    assert head + block + rest == ids and block == spec.image_block_ids
    assert spec.image_block_ids not in [head[i: i + len(block)] for i in range(len(head))]
    assert rest.count(spec.image_token_id) == block.count(spec.image_token_id)  # image B's block is in the rest


BACKENDS = ["cpu"] + (["openvino"] if HAVE_OPENVINO else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_prefix_reuse_gives_the_full_prompts_verdicts_at_fp32(tiny_export, synth_pairs, backend):
    on, off = _pair(tiny_export, backend)
    assert on.prefix_reuse and not off.prefix_reuse and mf.JUDGE_EXTEND in on.describe()["graphs"]
    items = _items(synth_pairs[:6]) + [(synth_pairs[0].image_a, synth_pairs[1].image_b, "another query", "")]
    got, want = on.compare_many(items), off.compare_many(items)
    assert [g.winner for g in got] == [w.winner for w in want]
    assert np.abs(np.array([g.p_a for g in got]) - [w.p_a for w in want]).max() <= 1e-4
    np.testing.assert_allclose([g.logits for g in got], [w.logits for w in want], atol=1e-4)
    images = [p.image_a for p in synth_pairs[:6]]
    ranked_on, ranked_off = on.rank(images, "red running shoe", "Trail shoe"), off.rank(images, "red running shoe", "Trail shoe")
    np.testing.assert_allclose(ranked_on.scores, ranked_off.scores, atol=1e-3)
    assert ranked_on.order == ranked_off.order
    assert on.describe()["probe"]["verdict"]["figures"]["prefix_max_dp_a"] <= 1e-4


@pytest.mark.parametrize("backend", BACKENDS)
def test_prefix_reuse_stays_within_the_int8_floor(tiny_export, synth_pairs, backend):
    on, off = _pair(tiny_export, backend, "int8")
    items = _items(synth_pairs[:8])
    dp = np.abs(np.array([r.p_a for r in on.compare_many(items)]) - [r.p_a for r in off.compare_many(items)])
    assert dp.max() <= on.manifest.probe["floors"]["int8"]["max_dp_a"]


def test_a_rank_computes_the_head_once_and_each_first_creative_once(tiny_export, synth_pairs):
    sel = Selector.load(tiny_export, backend="cpu", precision="fp32", threads=1, batch_size=64)
    rec = sel._graphs[mf.JUDGE_EXTEND] = Recorder(sel._graphs[mf.JUDGE_EXTEND])
    n = 5
    result = sel.rank([p.image_a for p in synth_pairs[:n]], "red running shoe", "Trail shoe")
    head, block, rest = segments(sel.tokenizer.judge_ids("red running shoe", "Trail shoe"), sel.manifest.prompt)
    heads = [c for c in rec.calls if c[1] == 0]
    prefixes = [c for c in rec.calls if c[1] == len(head)]
    rests = [c for c in rec.calls if c[1] == len(head) + len(block)]
    assert len(heads) == 1 and heads[0][0] == (1, len(head))  # one head per call of the schedule's judge rounds at most
    assert sum(shape[0] for shape, _ in prefixes) == n and all(shape[1] == len(block) for shape, _ in prefixes)
    assert sum(shape[0] for shape, _ in rests) == 2 * len(result.comparisons)  # both orders of every game
    assert all(shape[1] == len(rest) for shape, _ in rests)
    assert len(rec.calls) == len(heads) + len(prefixes) + len(rests)
