"""Relative error against fp32 of every reduced-precision path of one export, on synthetic creatives.

For ``--pairs`` synthetic pairs (2 creatives each) at the export's frame size: the vision features of
each creative and the judge's verdict logits (both orders of each pair) from ONNX Runtime's fp32
graphs are the reference. Each variant (ONNX Runtime INT8, OpenVINO INT8 IR, OpenVINO fp32 IR and,
where the CPU has BF16, the fp32 IR under OpenVINO's bf16 hint) is measured three ways:
vision features ``||got - ref|| / ||ref||`` per creative; judge logits (each row's mean removed, as the
probe does) on the reference features, so the judge's own error shows; and end to end (its own
vision into its own judge) as |delta p_a|. Medians and maxima; the CPU's flags with them. One JSON line last.

    python benchmarks/int8_rel_err.py --export /work/ov/smol-export --pairs 25 --threads 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

VARIANTS = {"ort-int8": ("cpu", "int8"), "openvino-int8": ("openvino", "int8"), "openvino-fp32": ("openvino", "fp32"),
            "openvino-bf16": ("openvino", "bf16")}


def judge_feeds(sel, ids: list[int], ea: np.ndarray, eb: np.ndarray) -> dict:
    """Both order rows of one pair, as the Selector builds them."""
    ids_arr = np.array([ids, ids], dtype=np.int64)
    return {"input_ids": ids_arr, "attention_mask": np.ones_like(ids_arr),
            "image_embeds": np.stack([np.concatenate([ea, eb]), np.concatenate([eb, ea])]).astype(np.float32)}


def measure(sel, ref, items) -> dict:
    """Per-creative vision rel. error, per-pair judge logits rel. error (on the reference features) and end-to-end |dp_a|."""
    from creative4u_small.runtime.preprocess import preprocess
    from creative4u_small.runtime.probe import logits_rel_err, rel_err
    from creative4u_small.contract.verdict_prob import p_a

    vision, judge, dp = [], [], []
    for a, b, query, title in items:
        px = [preprocess(src, ref.manifest.preprocessing)[None] for src in (a, b)]
        ref_emb = [ref.run_graph("vision", {"pixel_values": x})["image_embeds"][0] for x in px]
        emb = [sel.run_graph("vision", {"pixel_values": x})["image_embeds"][0] for x in px]
        vision += [rel_err(e, r) for e, r in zip(emb, ref_emb)]
        ids = ref.tokenizer.judge_ids(query, title)
        ref_logits = ref.run_graph("judge", judge_feeds(ref, ids, *ref_emb))["verdict_logits"]
        judge.append(logits_rel_err(sel.run_graph("judge", judge_feeds(sel, ids, *ref_emb))["verdict_logits"], ref_logits))
        own = sel.run_graph("judge", judge_feeds(sel, ids, *emb))["verdict_logits"]
        dp.append(float(np.abs(p_a(own.astype(np.float64)).mean() - p_a(ref_logits.astype(np.float64)).mean())))
    stats = lambda v: {"median": float(np.median(v)), "max": float(np.max(v))}  # noqa: E731
    return {"vision_rel_err": stats(vision), "judge_logits_rel_err": stats(judge), "end_to_end_abs_dp_a": stats(dp),
            "creatives": len(vision), "pairs": len(judge)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True, help="export with INT8 graphs and OpenVINO IR (c4u export --int8 --openvino)")
    ap.add_argument("--pairs", type=int, default=25, help="synthetic pairs (two creatives each)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()

    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.runtime import Selector
    from creative4u_small.runtime.engines import BackendError
    from creative4u_small.runtime.bench import machine_info
    from creative4u_small.data.synth import synthesize

    ref = Selector.load(args.export, backend="cpu", precision="fp32", threads=args.threads, probe=False)
    size = ref.manifest.preprocessing.image_size
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        pairs = load_pairs(synthesize(args.pairs, Path(tmp) / "pairs", seed=args.seed, image_size=size))
        items = [(p.image_a, p.image_b, p.query, p.title) for p in pairs]
        for name in args.variants.split(","):
            backend, precision = VARIANTS[name]
            try:
                sel = Selector.load(args.export, backend=backend, precision=precision, threads=args.threads)
            except BackendError as e:
                out[name] = {"skipped": str(e)}
                continue
            out[name] = measure(sel, ref, items) | {"precision_run": sel.precision}
    machine = machine_info()
    print(json.dumps({"bench": "int8_rel_err", "export": str(args.export), "image_size": size, "cpu": machine["cpu"],
                      "cores": machine["cores"], "int8_flags": machine["int8"]["flags"], "variants": out}))


if __name__ == "__main__":
    main()
