"""The shift gate: every INT8 variant against fp32 on creatives unlike the calibration set.

Held-out parity and the load-time probe replay pairs like the calibration pairs, so INT8 graphs with static
activation ranges pass them and can still clip on real creatives. At export, ``shift_pairs`` pairs of the
distribution-shift set (``creative4u_small.data.shift``: photo-like, text-dense, dark and saturated creatives at
other aspect ratios, drawn with their own seed) run through each INT8 variant and through the fp32 graphs, as the
runtime runs them. A variant passes when its verdicts agree with fp32 and its p99 and max |Δp_a| stay under their
ceilings. A failure does not fail the export: the variant is marked, and ``backend=auto`` does not pick it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from creative4u_small.contract.pairs import load_pairs
from creative4u_small.contract.verdict_prob import p_a
from creative4u_small.data.shift import synthesize_shift
from creative4u_small.export import parity as P
from creative4u_small.export.export_run import ExportRun
from creative4u_small.export.runtime_check import shared_selector
from creative4u_small.runtime import engines
from creative4u_small.runtime import manifest as mf

SEED_OFFSET = 7919  # the gate's pairs are drawn apart from any calibration pairs made from the export's seed


def shift_items(run: ExportRun) -> list:
    """The gate's pairs, rendered into the run's scratch folder at the model's frame size (at most 256 px)."""
    if not run.cfg.shift_pairs:
        return []
    size = max(32, min(run.pre.image_size, 256))
    path = synthesize_shift(run.cfg.shift_pairs, Path(run.work) / "shift", seed=run.cfg.seed + SEED_OFFSET, image_size=size)
    return [(p.image_a, p.image_b, p.query, p.title) for p in load_pairs(path)]


def figures(reference: np.ndarray, got: np.ndarray, run: ExportRun) -> dict:
    """Agreement over decisive pairs, p99 / max / median |Δp_a|, and the gate's status with the breaches named."""
    cfg = run.cfg
    dp = np.abs(got - reference)
    decisive = np.abs(reference - 0.5) >= cfg.margin
    agreeing = int(((got >= 0.5) == (reference >= 0.5))[decisive].sum())
    out = {"pairs": int(dp.size), "decisive": int(decisive.sum()), "agreeing": agreeing,
           "agreement": agreeing / int(decisive.sum()) if decisive.any() else None,
           "p99_abs_dp_a": float(np.percentile(dp, 99)), "max_abs_dp_a": float(dp.max()), "median_abs_dp_a": float(np.median(dp))}
    breaches = []
    if out["agreement"] is not None and out["agreement"] < cfg.int8_agreement:
        breaches.append(f"verdict agreement {out['agreement']:.2%} ({agreeing}/{out['decisive']}) is below {cfg.int8_agreement:.2%}")
    if out["p99_abs_dp_a"] > cfg.shift_p99_dp:
        breaches.append(f"p99 |delta p_a| {out['p99_abs_dp_a']:.3g} is above {cfg.shift_p99_dp:.3g}")
    if out["max_abs_dp_a"] > cfg.int8_max_dp:
        breaches.append(f"max |delta p_a| {out['max_abs_dp_a']:.3g} is above {cfg.int8_max_dp:.3g}")
    return out | {"status": "failed" if breaches else "passed", "reason": "; ".join(breaches)}


def _selector_p_a(run: ExportRun, manifest: mf.Manifest, backend: str, precision: str) -> np.ndarray:
    return np.array([r.p_a for r in shared_selector(run, manifest, backend, precision).compare_many(run.shift_items)])


def _qdq_p_a(run: ExportRun) -> np.ndarray:
    """The TensorRT QDQ graphs as written (dequantize, then float MatMul), as the held-out parity runs them."""
    drv = P.OrtVerdictDriver(run.file(f"{mf.VISION}.int8-qdq"), run.file(f"{mf.JUDGE}.int8-qdq"), threads=run.cfg.threads,
                             reference_semantics=True)
    return p_a(P.exported_logits(drv, run.processor, run.shift_items, run.cfg.batch_size))


def gate(run: ExportRun, manifest: mf.Manifest) -> dict:
    """The manifest's ``shift`` section: each INT8 variant of the export against the fp32 graphs on the shift pairs."""
    cfg = run.cfg
    section = {"pairs": len(run.shift_items), "seed": cfg.seed + SEED_OFFSET,
               "source": "creative4u_small.data.shift: photo-like, text-dense, dark and saturated creatives, other aspect ratios",
               "reference": "the fp32 ONNX graphs through the runtime Selector (ONNX Runtime, CPU)",
               "ceilings": {"agreement": cfg.int8_agreement, "p99_abs_dp_a": cfg.shift_p99_dp, "max_abs_dp_a": cfg.int8_max_dp},
               "variants": {}}
    if not run.shift_items:
        return section | {"skipped": "shift_pairs is 0"}
    paths = {k: path for k, path in engines.cpu_paths().items() if path[1] == "int8"}  # the INT8 the runtime runs on a CPU
    variants = [k for k in run.parity if k in paths or k == "int8-qdq"]
    if not variants:
        return section
    reference = _selector_p_a(run, manifest, *engines.cpu_paths()["fp32"])
    for i, key in enumerate(variants):
        run.progress("shift gate", i, len(variants))
        got = _qdq_p_a(run) if key == "int8-qdq" else _selector_p_a(run, manifest, *paths[key])
        section["variants"][key] = figures(reference, got, run)
    return section
