"""The student's verdict costs one forward pass: verdict scorer (both orders) vs. generate().

Builds the `smolvlm-256m-shape` preset in memory (random weights, SmolVLM-256M's dimensions, no
download) and times, on the CPU, for one synthetic pair:
  * the verdict scorer: one batched prefill of the pair in both image orders (AB, BA), images
    preprocessed and encoded once each;
  * the same model generating a teacher-style rationale with ``generate()``: the AB order,
    greedy, exactly ``--new-tokens`` new tokens (``min_new_tokens`` too, so random weights cannot
    stop early).
Both include preprocessing and tokenising. Warm-up runs are excluded; the medians of ``--runs``
runs are compared. Prints one JSON line last.

    python benchmarks/verdict_vs_generate.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smolvlm-256m-shape")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--limit", type=float, default=0.6, help="the scorer must take less than this share of generate")
    args = ap.parse_args()

    import torch

    from creative4u_small.contract.images import open_image
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.contract.protocol import verdict_token_ids
    from creative4u_small.data.synth import synthesize
    from creative4u_small.modeling.judge_prompt import prompt_chat_text
    from creative4u_small.modeling.model_init import build_model, build_processor
    from creative4u_small.modeling.presets import get_preset
    from creative4u_small.modeling.scorer import VerdictScorer

    if args.threads:
        torch.set_num_threads(args.threads)
    preset = get_preset(args.preset)
    processor = build_processor(preset)
    model = build_model(preset, processor.tokenizer, seed=0).eval()
    ids = verdict_token_ids(processor.tokenizer)
    with tempfile.TemporaryDirectory() as tmp:
        synthesize(1, Path(tmp), seed=0, image_size=preset.image_size)
        pair = load_pairs(Path(tmp) / "pairs.jsonl")[0]
        a, b = open_image(pair.image_a), open_image(pair.image_b)
    scorer = VerdictScorer(model, processor, ids)

    def score():
        return scorer.score([(a, b, pair.query, pair.title)])

    def generate():
        inputs = processor(text=[prompt_chat_text(processor, pair.query, pair.title)], images=[[a, b]], return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False)
        n_new = out.shape[1] - inputs["input_ids"].shape[1]
        if n_new != args.new_tokens:
            raise RuntimeError(f"generate produced {n_new} tokens, not {args.new_tokens}")
        return inputs["input_ids"].shape[1]

    def timed(fn, n):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return times

    timed(score, args.warmup)
    prompt_len = generate()  # also the warm-up of generate
    timed(generate, max(0, args.warmup - 1))
    t_score = timed(score, args.runs)
    t_gen = timed(generate, args.runs)
    ms, mg = statistics.median(t_score), statistics.median(t_gen)
    result = {
        "benchmark": "verdict_vs_generate",
        "preset": preset.name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
        "prompt_tokens": prompt_len,
        "new_tokens": args.new_tokens,
        "runs": args.runs,
        "scorer_both_orders_s": round(ms, 4),
        "generate_s": round(mg, 4),
        "scorer_runs_s": [round(t, 4) for t in t_score],
        "generate_runs_s": [round(t, 4) for t in t_gen],
        "ratio": round(ms / mg, 4),
        "limit": args.limit,
        "passed": ms / mg < args.limit,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
