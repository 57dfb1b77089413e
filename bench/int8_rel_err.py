"""Relative error against fp32 of every reduced-precision path of one export, on synthetic creatives
(`int8_rel_err.py`): vision features, judge logits on the reference features, and end to end |delta p_a|."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.bench.machine import machine_summary
from creative4u_small.bench.script_args import require_subset
from creative4u_small.bench.workload import synthetic_items
from creative4u_small.contract.settings import setting
from creative4u_small.contract.verdict_prob import p_a
from creative4u_small.runtime.engines import BackendError
from creative4u_small.runtime.preprocess import preprocess
from creative4u_small.runtime.probe import logits_rel_err, rel_err
from creative4u_small.runtime.selector import Selector

VARIANTS = {"ort-int8": ("cpu", "int8"), "openvino-int8": ("openvino", "int8"), "openvino-fp32": ("openvino", "fp32"),
            "openvino-bf16": ("openvino", "bf16")}


def judge_feeds(sel, ids: list[int], ea: np.ndarray, eb: np.ndarray) -> dict:
    """Both order rows of one pair, as the Selector builds them."""
    ids_arr = np.array([ids, ids], dtype=np.int64)
    return {"input_ids": ids_arr, "attention_mask": np.ones_like(ids_arr),
            "image_embeds": np.stack([np.concatenate([ea, eb]), np.concatenate([eb, ea])]).astype(np.float32)}


def measure(sel, ref, items) -> dict:
    """Per-creative vision rel. error, per-pair judge logits rel. error (on the reference features) and end-to-end |dp_a|."""
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


@dataclass(frozen=True)
class Int8RelErrConfig:
    export: Path = setting(help="Export with INT8 graphs and OpenVINO IR (c4u export --int8 --openvino).")
    pairs: int = setting(25, "Synthetic pairs (two creatives each).")
    threads: int = setting(0, "Intra-op threads (0: the engine's default).")
    seed: int = setting(11, "Seed of the synthetic creatives.")
    variants: tuple[str, ...] = setting(tuple(VARIANTS), f"Variants to measure, of: {', '.join(VARIANTS)}.")

    def __post_init__(self):
        require_subset("variants", self.variants, VARIANTS)


def int8_rel_err(cfg: Int8RelErrConfig) -> dict:
    """Every variant against ONNX Runtime's fp32 graphs; a variant whose backend or graphs are missing is skipped with why."""
    ref = Selector.load(cfg.export, backend="cpu", precision="fp32", threads=cfg.threads, probe=False)
    size = ref.manifest.preprocessing.image_size
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        items = synthetic_items(cfg.pairs, Path(tmp) / "pairs", cfg.seed, size)
        for name in cfg.variants:
            backend, precision = VARIANTS[name]
            try:
                sel = Selector.load(cfg.export, backend=backend, precision=precision, threads=cfg.threads)
            except BackendError as e:
                out[name] = {"skipped": str(e)}
                continue
            out[name] = measure(sel, ref, items) | {"precision_run": sel.precision}
    return {"bench": "int8_rel_err", "export": str(cfg.export), "image_size": size, **machine_summary("cpu", "cores", "int8_flags"), "variants": out}
