"""The PyTorch verdict scorer on a GPU in bf16 / fp16 (and fp32): compare latency (both orders) and pairs/s at
batch 1/8/32, with the verdicts' agreement against fp32. For a lent GPU machine; no test depends on it.

It builds the model from an offline preset (no download) unless --model is given, synthesises 512 px
creatives, warms up, times with perf_counter after torch.cuda.synchronize, and prints one JSON line last.
On a CPU (``--device cpu --dtypes float32``) it runs the same code as a smoke check.

    python benchmarks/gpu_scorer.py --preset smolvlm-256m-shape --device cuda --dtypes bfloat16,float16,float32 --runs 20
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="smolvlm-256m-shape")
    ap.add_argument("--model", type=Path, help="model folder (default: the preset, built offline)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtypes", default="bfloat16,float16,float32")
    ap.add_argument("--batch-sizes", default="1,8,32")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--image-size", type=int, default=512)
    args = ap.parse_args()

    import torch

    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.data.synth import synthesize
    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.modeling.scorer import VerdictScorer

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    sizes = [int(b) for b in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            from creative4u_small.modeling.model_init import init_model

            model_dir = Path(tmp) / "model"
            init_model(args.preset, model_dir, seed=0, overwrite=True)
        pairs = load_pairs(synthesize(max(sizes) + args.runs, Path(tmp) / "pairs", seed=5, image_size=args.image_size))
        items = [(p.image_a, p.image_b, p.query, p.title) for p in pairs]
        out, p_ref = {}, None
        for name in reversed(args.dtypes.split(",")):  # fp32 (last in the list) first: the reference
            model, processor, verdict_ids = load_model(model_dir, dtype=getattr(torch, name), device=args.device)
            scorer = VerdictScorer(model, processor, verdict_ids, batch_size=1)
            for _ in range(args.warmup):
                scorer.score([items[0]])
            lat = []
            for i in range(args.runs):
                sync()
                t0 = time.perf_counter()
                scorer.score([items[i % len(items)]])
                sync()
                lat.append((time.perf_counter() - t0) * 1000)
            fig = {"compare_ms_p50": float(np.median(lat)), "compare_ms_p99": float(np.percentile(lat, 99)), "pairs_per_s": {}}
            for b in sizes:
                scorer.batch_size = b
                scorer.score(items[:b])
                sync()
                t0 = time.perf_counter()
                reps = max(1, args.runs // b)
                for r in range(reps):
                    scorer.score(items[r % max(1, len(items) - b):][:b])
                sync()
                fig["pairs_per_s"][str(b)] = reps * b / (time.perf_counter() - t0)
            scorer.batch_size = 16
            p = np.array([v.p_a for v in scorer.score(items[: args.runs])])
            if p_ref is None:
                p_ref = p
            fig["verdict_agreement_vs_first"] = float(((p >= 0.5) == (p_ref >= 0.5)).mean())
            fig["max_dp_a_vs_first"] = float(np.abs(p - p_ref).max())
            out[name] = fig
            del model
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(json.dumps({"bench": "gpu_scorer", "device": device, "torch": torch.__version__, "model": str(args.model or args.preset),
                      "image_size": args.image_size, "runs": args.runs, "dtypes": out}))


if __name__ == "__main__":
    main()
