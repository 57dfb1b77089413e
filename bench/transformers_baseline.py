"""The `c4u bench` baseline: the same workload on the plain transformers model (torch loads inside the function)."""

from __future__ import annotations

import time

from creative4u_small.bench.timing import noop_progress, peak_rss_mb, percentiles, throughput
from creative4u_small.bench.workload import distinct_images
from creative4u_small.contract.images import open_image
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.modeling.judge_prompt import prompt_chat_text
from creative4u_small.modeling.scorer import VerdictScorer


def bench_transformers(cfg, items, progress=noop_progress) -> dict:
    """The same workload on the PyTorch model: teacher-style generate and the single-pass scorer."""
    import torch

    model, processor, verdict_ids = load_model(cfg.model)
    out: dict = {"model": str(cfg.model), "torch_threads": torch.get_num_threads()}

    def scorer(batch_size=16):
        return VerdictScorer(model, processor, verdict_ids, batch_size=batch_size)

    for _ in range(cfg.warmup):
        scorer().score([items[0]])
    lat = []
    for i in range(cfg.runs):
        progress("transformers scorer", i, cfg.runs)
        t0 = time.perf_counter()
        scorer().score([items[i % len(items)]])
        lat.append((time.perf_counter() - t0) * 1000)
    out["scorer_compare_ms"] = percentiles(lat)

    def run_batch(batch):
        t0 = time.perf_counter()
        scorer(batch_size=len(batch)).score(batch)
        return time.perf_counter() - t0

    out["scorer_throughput"] = throughput(cfg, items, run_batch, "transformers", progress)

    images = distinct_images(items)
    ranks = {}
    for n in cfg.rank_sizes:
        if n > cfg.baseline_rank_max:
            continue
        progress(f"transformers rank {n} (every ordered pair)", 0, 1)
        pairs = [(images[i], images[j], items[0][2], items[0][3]) for i in range(n) for j in range(i + 1, n)]
        t0 = time.perf_counter()
        scorer().score(pairs)  # both orders of every unordered pair = every ordered pair
        ranks[str(n)] = {"seconds": time.perf_counter() - t0, "ordered_pairs": 2 * len(pairs)}
    out["scorer_rank_all_ordered_pairs"] = ranks

    if cfg.explain_runs and cfg.generate_tokens:
        def generate(item):
            """Plain transformers: processor on the teacher prompt, then greedy generate of the reasoning."""
            a, b, q, t = item
            inputs = processor(text=[prompt_chat_text(processor, q, t)], images=[[open_image(a), open_image(b)]], return_tensors="pt")
            with torch.inference_mode():
                ids = model.generate(**inputs, max_new_tokens=cfg.generate_tokens, min_new_tokens=cfg.generate_tokens, do_sample=False)
            return int(ids.shape[1] - inputs["input_ids"].shape[1])

        generate(items[0])  # warm-up
        gen, new_tokens = [], 0
        for i in range(cfg.explain_runs):
            progress("transformers generate", i, cfg.explain_runs)
            t0 = time.perf_counter()
            new_tokens = generate(items[i % len(items)])
            gen.append((time.perf_counter() - t0) * 1000)
        out["generate_ms"] = percentiles(gen)
        out["generate_new_tokens"] = new_tokens
    out["peak_rss_mb"] = peak_rss_mb()
    return out
