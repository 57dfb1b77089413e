"""Selector on the tiny export: parity with the PyTorch scorer, shared embeddings, rank bookkeeping, threads."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from creative4u_small.runtime import Selector
from creative4u_small.runtime import manifest as mf


class Spy:
    """Counts the rows each graph call receives."""

    def __init__(self, graph, first_input):
        self.graph, self.first_input, self.rows = graph, first_input, []

    def run(self, feeds):
        self.rows.append(int(feeds[self.first_input].shape[0]))
        return self.graph.run(feeds)


def _spied(export):
    """The full-prompt judge, its calls counted (tests/runtime/test_runtime_prefix.py counts the prefix-reuse path)."""
    sel = Selector.load(export, backend="cpu", threads=1, prefix_reuse=False)
    sel._graphs[mf.VISION] = Spy(sel._graphs[mf.VISION], "pixel_values")
    sel._graphs[mf.JUDGE] = Spy(sel._graphs[mf.JUDGE], "input_ids")
    return sel


def _items(pairs):
    return [(p.image_a, p.image_b, p.query, p.title) for p in pairs]


def test_compare_agrees_with_the_pytorch_scorer_on_50_pairs(tiny_selector, tiny_model_dir, synth_pairs):
    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.modeling.scorer import VerdictScorer

    pairs = synth_pairs[:50]
    model, processor, ids = load_model(tiny_model_dir)
    ref = VerdictScorer(model, processor, ids, batch_size=16).score_pairs(pairs)
    got = tiny_selector.compare_many(_items(pairs))
    dp = [abs(g.p_a - r.p_a) for g, r in zip(got, ref)]
    assert len(got) == 50 and max(dp) <= 1e-4, f"max |dp_a| {max(dp):.2e}"
    for g, r in zip(got, ref):
        assert np.allclose(g.p_a_orders, r.p_a_orders, atol=1e-4)
        assert np.allclose(g.logits, r.logits, atol=1e-4)
        assert g.winner == ("A" if g.p_a >= 0.5 else "B")
        assert g.consistent == ((g.p_a_orders[0] >= 0.5) == (g.p_a_orders[1] >= 0.5))
    print(f"tiny fp32 vs PyTorch scorer, 50 pairs: max |dp_a| = {max(dp):.2e}")


def test_both_orders_run_as_one_batch_over_two_encodes(tiny_export, synth_pairs):
    sel = _spied(tiny_export)
    p = synth_pairs[0]
    r = sel.compare(p.image_a, p.image_b, p.query, p.title)
    assert sel._graphs[mf.VISION].rows == [2] and sel._graphs[mf.JUDGE].rows == [2]
    assert set(r.timings_ms) >= {"preprocess", "vision", "judge", "total"}
    again = sel.compare(p.image_b, p.image_a, p.query, p.title)  # both images cached now
    assert sel._graphs[mf.VISION].rows == [2] and sel.images_encoded == 2
    assert again.p_a == pytest.approx(1 - r.p_a, abs=1e-6)  # swapping the pair swaps the orders
    assert again.p_a_orders == pytest.approx((1 - r.p_a_orders[1], 1 - r.p_a_orders[0]), abs=1e-6)


def test_images_as_paths_bytes_or_pil_give_the_same_verdict(tiny_selector, synth_pairs):
    p = synth_pairs[1]
    by_path = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title)
    by_bytes = tiny_selector.compare(p.image_a.read_bytes(), p.image_b.read_bytes(), p.query, p.title)
    by_pil = tiny_selector.compare(Image.open(p.image_a), Image.open(p.image_b), p.query, p.title)
    assert by_path.p_a == by_bytes.p_a == pytest.approx(by_pil.p_a, abs=1e-7)


def test_batched_compare_equals_one_by_one(tiny_selector, synth_pairs):
    items = _items(synth_pairs[:5])
    batched = tiny_selector.compare_many(items)
    single = [tiny_selector.compare(*it) for it in items]
    assert np.allclose([b.p_a for b in batched], [s.p_a for s in single], atol=1e-6)


@pytest.mark.parametrize("n,round_robin_max", [(7, 12), (14, 4)])
def test_rank_encodes_each_image_once_and_makes_the_comparisons_it_reports(tiny_export, synth_pairs, n, round_robin_max):
    sel = _spied(tiny_export)
    sel.config = type(sel.config)(**{**sel.config.to_dict(), "round_robin_max": round_robin_max, "batch_size": 4, "screen_one_order": True})
    images = [p.image_a for p in synth_pairs[:n]]
    images.append(images[0].read_bytes())  # the same content again: still one encode
    result = sel.rank(images, "red running shoe", "Trail shoe")
    assert result.images_encoded == n and sum(sel._graphs[mf.VISION].rows) == n
    per_call = sel._per_call(mf.VISION)  # vision runs in full batches, not image by image
    assert len(sel._graphs[mf.VISION].rows) == -(-n // per_call)
    swiss = n + 1 > round_robin_max
    finals = [c for c in result.comparisons if c.phase != "swiss"]
    screened = len(result.comparisons) - len(finals)
    assert (screened > 0) == swiss
    # Swiss games are judged in one image order, round-robin games in both
    assert sum(sel._graphs[mf.JUDGE].rows) == 2 * len(result.comparisons) - screened
    assert max(sel._graphs[mf.JUDGE].rows) <= 2 * 4
    # each schedule round is one batched judge call: at most one part-full graph batch per round
    assert len(sel._graphs[mf.JUDGE].rows) <= len(result.comparisons) // 4 + result.rounds
    assert sorted(result.order) == list(range(n + 1)) and len(result.scores) == n + 1
    assert result.strategy == ("swiss+challenge" if swiss else "round-robin")
    assert len({frozenset((c.i, c.j)) for c in result.comparisons}) == len(result.comparisons)
    # the reported comparisons are the selector's real verdicts: both orders, or the order shown
    c = finals[-1]
    direct = sel.compare(images[c.i], images[c.j], "red running shoe", "Trail shoe")
    assert direct.p_a == pytest.approx(c.p_i, abs=1e-6)
    if swiss:
        c = result.comparisons[0]
        direct = sel.compare(images[c.i], images[c.j], "red running shoe", "Trail shoe")
        assert min(abs(c.p_i - p) for p in direct.p_a_orders) < 1e-6
    assert sum(sel._graphs[mf.VISION].rows) == n  # and still no re-encode
    top = sel.rank(images, "red running shoe", "Trail shoe", top_k=3)
    assert len(top.order) == 3 and top.images_encoded == 0


def test_swiss_games_in_both_orders_by_default(tiny_export, synth_pairs):
    sel = _spied(tiny_export)
    sel.config = type(sel.config)(**{**sel.config.to_dict(), "round_robin_max": 4})
    result = sel.rank([p.image_a for p in synth_pairs[:9]], "q", "t")
    assert any(c.phase == "swiss" for c in result.comparisons)
    assert sum(sel._graphs[mf.JUDGE].rows) == 2 * len(result.comparisons)


def test_concurrent_use_gives_the_serial_answers(tiny_export, synth_pairs):
    sel = Selector.load(tiny_export, backend="cpu", threads=1)
    items = _items(synth_pairs[:16])
    serial = [sel.compare(*it).p_a for it in items]
    sel.clear_cache()
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda it: sel.compare(*it).p_a, items * 2))
    assert threaded == serial * 2
    images = [p.image_a for p in synth_pairs[:6]]
    ranks = list(ThreadPoolExecutor(4).map(lambda _: sel.rank(images, "q", "t").order, range(4)))
    assert all(r == sel.rank(images, "q", "t").order for r in ranks)


def test_long_text_is_cut_at_the_token_budget_and_said_so(tiny_selector, synth_pairs):
    """Text past the export's budget changes nothing past the budget: the judge sees the same ids, the result names the cut."""
    from creative4u_small.runtime.tokenize import TextBudgetError

    p = synth_pairs[0]
    budget = tiny_selector.tokenizer.budgets["query"]
    assert budget == tiny_selector.manifest.prompt.max_slot_tokens["query"] == 64
    short = " ".join(f"w{i}" for i in range(10))
    long_a, long_b = short + " red" * 400, short + " blue" * 400
    ids_a, ids_b = (tiny_selector.prompt(q, "t").ids for q in (long_a, long_b))
    assert len(ids_a) == len(ids_b) == len(tiny_selector.prompt("", "t").ids) + budget
    assert tiny_selector.prompt(short, "t").truncated == {}
    got = tiny_selector.compare(p.image_a, p.image_b, long_a, p.title)
    assert got.truncated["query"]["kept"] == budget and got.truncated["query"]["tokens"] > 400 and "title" not in got.truncated
    assert got.to_dict()["truncated"] == got.truncated
    with pytest.raises(TextBudgetError, match="query: .* tokens, above this model's budget of 64"):
        tiny_selector.prompt(long_a, "t", strict=True)
    ranked = tiny_selector.rank([p.image_a, p.image_b], long_b, p.title)
    assert ranked.truncated["query"]["kept"] == budget


def test_frames_give_the_answers_of_the_images_they_came_from(tiny_selector, synth_pairs):
    p = synth_pairs[5]
    a, b = tiny_selector.frame(p.image_a.read_bytes()), tiny_selector.frame(p.image_b)
    assert a.pixels.shape == (3, 32, 32) and a.key == tiny_selector.frame(p.image_a.read_bytes()).key
    want = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title)
    assert tiny_selector.compare(a, b, p.query, p.title).p_a == want.p_a
    images = [p.image_a, p.image_b, synth_pairs[6].image_a]
    assert tiny_selector.rank([tiny_selector.frame(x) for x in images], "q").order == tiny_selector.rank(images, "q").order


def test_int8_precision_uses_the_int8_graphs(tiny_export, synth_pairs):
    sel = Selector.load(tiny_export, backend="cpu", precision="int8", threads=1)
    info = sel.describe()
    assert info["graphs"]["vision"]["key"] == "vision.int8" and info["graphs"]["judge"]["key"] == "judge.int8"
    fp32 = Selector.load(tiny_export, backend="cpu", threads=1)
    items = _items(synth_pairs[:10])
    batched = sel.compare_many(items)
    d = [abs(a.p_a - b.p_a) for a, b in zip(batched, fp32.compare_many(items))]
    assert max(d) < 0.02
    sel.clear_cache()
    # dynamic INT8 scales activations per call: one image / one pair per call keeps batch mates out of an answer
    assert [r.p_a for r in batched] == [sel.compare(*it).p_a for it in items]


def test_tensorrt_ep_prefers_the_explicit_qdq_int8_graphs(tiny_export):
    """The TensorRT EP builds from Q/DQ graphs; ONNX Runtime's CPU and CUDA EPs run the dynamic INT8 ones."""
    from creative4u_small.runtime import engines

    manifest = mf.read_manifest(tiny_export)
    manifest.graphs["judge.int8-qdq"] = manifest.graphs["judge.int8"]
    assert engines.engine("cpu").graph_key(manifest, "judge", "int8") == "judge.int8"
    assert engines.engine("cuda").graph_key(manifest, "judge", "int8") == "judge.int8"
    trt_ep = engines.engine("trt-ep")
    assert trt_ep.graph_key(manifest, "judge", "int8") == "judge.int8-qdq" and trt_ep.graph_key(manifest, "vision", "int8") == "vision.int8"
    assert trt_ep.graph_key(manifest, "judge", "fp32") == "judge"


def test_explain_decodes_what_transformers_greedy_decodes(tiny_selector, tiny_model_dir, synth_pairs):
    """The KV-cache graphs, greedy, give the same tokens as `generate` on prompt + forced verdict."""
    import torch

    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.modeling.scorer import build_judge_batch

    p = synth_pairs[2]
    result = tiny_selector.compare(p.image_a, p.image_b, p.query, p.title, explain=True, min_new_tokens=6)
    assert "explain" in result.timings_ms and isinstance(result.rationale, str)
    model, processor, _ = load_model(tiny_model_dir)
    batch = build_judge_batch(processor, [(p.image_a, p.image_b, p.query, p.title)], orders=("AB",))
    spec = tiny_selector.manifest.prompt
    forced = [spec.verdict_token_ids[0 if result.winner == "A" else 1], *spec.answer_close_ids]
    ids = torch.cat([batch.input_ids, torch.tensor([forced])], 1)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=batch.pixel_values[None],
                             max_new_tokens=8, min_new_tokens=6, do_sample=False)
    hf_tokens = [t for t in out[0, ids.shape[1]:].tolist()]
    eos = set(spec.eos_token_ids)
    hf_tokens = hf_tokens[: next((k for k, t in enumerate(hf_tokens) if t in eos), len(hf_tokens))]
    sel = Selector.load(tiny_selector.export_dir, backend="cpu", threads=1, max_new_tokens=8)
    ours = sel.rationale_tokens(sel.tokenizer.judge_ids(p.query, p.title), *sel.embed([p.image_a, p.image_b]), result.winner, 6)
    assert ours == hf_tokens and len(ours) >= 6
    assert sel.tokenizer.decode(ours).strip() == result.rationale[: len(sel.tokenizer.decode(ours).strip())]


def test_rationale_is_length_capped(tiny_export, synth_pairs):
    sel = Selector.load(tiny_export, backend="cpu", threads=1, max_new_tokens=5)
    p = synth_pairs[3]
    r = sel.compare(p.image_a, p.image_b, p.query, p.title, explain=True, min_new_tokens=5)
    assert len(sel.tokenizer.encode(r.rationale)) <= 6  # 5 tokens, re-tokenised


def test_load_honours_its_config_and_picks_precision_auto(tiny_export):
    from creative4u_small.runtime import engines
    from creative4u_small.runtime.engines import BackendError
    from creative4u_small.runtime.selector_config import SelectorConfig

    sel = Selector.load(tiny_export, config=SelectorConfig(backend="cpu", precision="int8", threads=1))
    assert (sel.backend, sel.precision, sel.config.threads) == ("cpu", "int8", 1)
    with pytest.raises(BackendError, match="backend 'cuda'"):
        Selector.load(tiny_export, config=SelectorConfig(backend="cuda"))
    auto = Selector.load(tiny_export, backend="cpu", threads=1)  # the untrained tiny export's parity is unverified
    assert auto.config.precision == "auto" and auto.precision == "fp32"
    assert auto.describe()["precision_reason"] == "auto: fp32 (the export's int8 parity is unverified)"
    m = auto.manifest
    cpu, trt_ep = engines.engine("cpu"), engines.engine("trt-ep")
    passed = dataclasses.replace(m, parity={**m.parity, "int8": {"status": "passed"}})
    assert cpu.auto_gate(passed, "int8") is None  # parity passed, and the export's shift-set check of int8 passed
    assert cpu.auto_gate(passed, "fp32") is None
    assert trt_ep.auto_gate(passed, "int8") == "the export's int8-qdq parity is absent"
    no_shift = dataclasses.replace(passed, shift={})
    assert cpu.auto_gate(no_shift, "int8").startswith("the export has no shift-set check of int8")
    assert not cpu.holds(dataclasses.replace(m, graphs={k: v for k, v in m.graphs.items() if ".int8" not in k}), "int8")
