"""Export sizes and times (`export_sizes.py`): `c4u export --int8` of a preset on this CPU, stage by stage, with the
graphs' sizes, peak memory, parity and one pair's latency per precision."""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.contract.settings import setting
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.export.exporter import ParityFailed, run_export
from creative4u_small.export.parity import OrtVerdictDriver
from creative4u_small.modeling.model_init import init_model
from creative4u_small.runtime import manifest as mf


@dataclass(frozen=True)
class ExportSizesConfig:
    FLAGS = {"decoder": "--decoder/--no-decoder", "warmup": "--warmup/--no-warmup"}
    preset: str = setting("smolvlm-256m-shape", "Model preset to build (random weights, no download) and export.")
    pairs: int = setting(8, "Calibration pairs (and as many held-out parity pairs).")
    threads: int = setting(0, "torch / onnxruntime threads (0: library default).")
    runs: int = setting(5, "Timed ONNX Runtime runs per precision.")
    decoder: bool = setting(True, "Also export the decoder graphs (--no-decoder skips them).")
    warmup: bool = setting(True, "Export the `tiny` preset first, so import and first-call costs are not counted (--no-warmup skips it).")


def timed_export(model_dir: Path, out: Path, pairs: int, threads: int, decoder: bool) -> tuple[dict, float, dict]:
    """`c4u export --int8` of ``model_dir``: (its summary, or the parity failure; total seconds; seconds per stage)."""
    marks: list[tuple[str, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if not marks or marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))

    cfg = ExportConfig(model=model_dir, out=out, int8=True, decoder=decoder, calib_pairs=pairs, threads=threads)
    t0 = time.perf_counter()
    try:
        summary = run_export(cfg, progress)
    except ParityFailed as e:
        summary = {"status": "failed", "error": str(e)}
    total = time.perf_counter() - t0
    stages: dict[str, float] = {}
    for (stage, start), (_, end) in zip(marks, marks[1:] + [("end", t0 + total)]):
        key = stage.split(" (")[0]
        stages[key] = round(stages.get(key, 0.0) + end - start, 2)
    return summary, round(total, 2), stages


def pair_latency(out: Path, precision: str, runs: int, threads: int) -> float:
    """Median seconds for one pair in both orders through the exported vision + judge graphs."""
    m = mf.read_manifest(out, verify_hashes=False)
    suffix = "" if precision == "fp32" else ".int8"
    drv = OrtVerdictDriver(out / m.graphs[mf.VISION + suffix].file, out / m.graphs[mf.JUDGE + suffix].file, threads=threads)
    s = m.preprocessing.image_size
    rng = np.random.default_rng(0)
    length = sum(len(p["ids"]) for p in m.prompt.pieces if "ids" in p) + 2 * len(m.prompt.image_block_ids) + 12
    ids = rng.integers(10, 100, (2, length)).astype(np.int64)
    block = m.prompt.image_block_ids
    ids[:, 5: 5 + len(block)] = block
    ids[:, 9 + len(block): 9 + 2 * len(block)] = block
    mask = np.ones_like(ids)
    pixels = rng.standard_normal((2, 3, s, s)).astype(np.float32)
    index = np.array([[0, 1], [1, 0]])
    drv.logits(ids, mask, pixels, index)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        drv.logits(ids, mask, pixels, index)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 4)


def export_sizes(cfg: ExportSizesConfig) -> dict:
    """Build the preset, export it, and report stage times, sizes, peak memory, latency and parity."""
    with tempfile.TemporaryDirectory(prefix="c4u-bench-") as tmp:
        tmp = Path(tmp)
        if cfg.warmup:
            init_model("tiny", tmp / "tiny")
            timed_export(tmp / "tiny", tmp / "tiny-export", 2, cfg.threads, False)
        t = time.perf_counter()
        init = init_model(cfg.preset, tmp / "model")
        init_s = round(time.perf_counter() - t, 2)
        weights = sum(p.stat().st_size for p in (tmp / "model").glob("*.safetensors"))
        out = tmp / "export"
        summary, total, stages = timed_export(tmp / "model", out, cfg.pairs, cfg.threads, cfg.decoder)
        peak_rss_gib = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
        sizes = {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(out.glob("*.onnx*"))} if out.exists() else {}
        latency = {prec: pair_latency(out, prec, cfg.runs, cfg.threads) for prec in ("fp32", "int8")} if out.exists() else {}
        parity = {k: {f: v.get(f) for f in ("pairs", "decisive", "agreement", "max_abs_dlogit", "max_abs_dp_a", "status")}
                  for k, v in summary.get("parity", {}).items()}
    return {
        "benchmark": "export_sizes", "preset": cfg.preset, "parameters": init["parameters"],
        "weights_mib": round(weights / 2**20, 2), "init_s": init_s, "export_s": total, "stages_s": stages,
        "graph_mib": sizes, "peak_rss_gib": peak_rss_gib, "pair_latency_s": latency, "parity_pairs": cfg.pairs,
        "status": summary.get("status"), "exporters": summary.get("exporters"), "parity": parity,
        "threads": cfg.threads or "default",
    }
