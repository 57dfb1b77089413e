"""The PyTorch verdict scorer's speed: by dtype on a GPU (`gpu_scorer.py`), and against ``generate()``
(`verdict_vs_generate.py`). Torch loads inside the functions."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.bench.workload import synthetic_items
from creative4u_small.contract.images import open_image
from creative4u_small.contract.protocol import verdict_token_ids
from creative4u_small.contract.settings import setting
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.modeling.judge_prompt import prompt_chat_text
from creative4u_small.modeling.model_init import build_model, build_processor, init_model
from creative4u_small.modeling.presets import get_preset
from creative4u_small.modeling.scorer import VerdictScorer


@dataclass(frozen=True)
class GpuScorerConfig:
    preset: str = setting("smolvlm-256m-shape", "Model preset built offline when no --model is given.")
    model: Path | None = setting(None, "Model folder (default: the preset, built offline).")
    device: str = setting("cuda", "torch device (cpu runs the same code as a smoke check).")
    dtypes: tuple[str, ...] = setting(("bfloat16", "float16", "float32"), "torch dtypes; the last one is measured first and is the reference.")
    batch_sizes: tuple[int, ...] = setting((1, 8, 32), "Pairs per scorer call for the pairs-per-second figures.")
    runs: int = setting(20, "Timed compares per dtype.")
    warmup: int = setting(3, "Untimed compares per dtype first.")
    image_size: int = setting(512, "Side of the synthetic creatives.")


def _dtype_figures(cfg: GpuScorerConfig, scorer, items: list, sync) -> dict:
    """Compare latency (batch 1) and pairs per second at each batch size of one loaded scorer."""
    for _ in range(cfg.warmup):
        scorer.score([items[0]])
    lat = []
    for i in range(cfg.runs):
        sync()
        t0 = time.perf_counter()
        scorer.score([items[i % len(items)]])
        sync()
        lat.append((time.perf_counter() - t0) * 1000)
    fig = {"compare_ms_p50": float(np.median(lat)), "compare_ms_p99": float(np.percentile(lat, 99)), "pairs_per_s": {}}
    for b in cfg.batch_sizes:
        scorer.batch_size = b
        scorer.score(items[:b])
        sync()
        t0 = time.perf_counter()
        reps = max(1, cfg.runs // b)
        for r in range(reps):
            scorer.score(items[r % max(1, len(items) - b):][:b])
        sync()
        fig["pairs_per_s"][str(b)] = reps * b / (time.perf_counter() - t0)
    return fig


def gpu_scorer(cfg: GpuScorerConfig) -> dict:
    """Every dtype (the reference first) on ``cfg.device``: latency, pairs/s, and verdicts against the reference."""
    import torch

    def sync():
        if cfg.device.startswith("cuda"):
            torch.cuda.synchronize()

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = cfg.model
        if model_dir is None:
            model_dir = Path(tmp) / "model"
            init_model(cfg.preset, model_dir, seed=0, overwrite=True)
        items = synthetic_items(max(cfg.batch_sizes) + cfg.runs, Path(tmp) / "pairs", 5, cfg.image_size)
        out, p_ref = {}, None
        for name in reversed(cfg.dtypes):  # fp32 (last in the list) first: the reference
            model, processor, verdict_ids = load_model(model_dir, dtype=getattr(torch, name), device=cfg.device)
            scorer = VerdictScorer(model, processor, verdict_ids, batch_size=1)
            fig = _dtype_figures(cfg, scorer, items, sync)
            scorer.batch_size = 16
            p = np.array([v.p_a for v in scorer.score(items[: cfg.runs])])
            p_ref = p if p_ref is None else p_ref
            fig["verdict_agreement_vs_first"] = float(((p >= 0.5) == (p_ref >= 0.5)).mean())
            fig["max_dp_a_vs_first"] = float(np.abs(p - p_ref).max())
            out[name] = fig
            del model
            if cfg.device.startswith("cuda"):
                torch.cuda.empty_cache()
    device = torch.cuda.get_device_name() if cfg.device.startswith("cuda") else "cpu"
    return {"bench": "gpu_scorer", "device": device, "torch": torch.__version__, "model": str(cfg.model or cfg.preset),
            "image_size": cfg.image_size, "runs": cfg.runs, "dtypes": out}


@dataclass(frozen=True)
class VerdictVsGenerateConfig:
    preset: str = setting("smolvlm-256m-shape", "Model preset built in memory (random weights, no download).")
    runs: int = setting(3, "Timed runs of each (medians compared).")
    warmup: int = setting(1, "Untimed runs of each first.")
    new_tokens: int = setting(128, "Tokens generate() produces (min_new_tokens too, so random weights cannot stop early).")
    threads: int = setting(0, "torch threads (0: torch's default).")
    limit: float = setting(0.6, "The scorer must take less than this share of generate.")


def _timed_runs(fn, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def verdict_vs_generate(cfg: VerdictVsGenerateConfig) -> dict:
    """One synthetic pair: the verdict scorer (both orders, one prefill) against a generated rationale, medians."""
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    preset = get_preset(cfg.preset)
    processor = build_processor(preset)
    model = build_model(preset, processor.tokenizer, seed=0).eval()
    scorer = VerdictScorer(model, processor, verdict_token_ids(processor.tokenizer))
    with tempfile.TemporaryDirectory() as tmp:
        image_a, image_b, query, title = synthetic_items(1, Path(tmp), 0, preset.image_size)[0]
        a, b = open_image(image_a), open_image(image_b)

    def score():
        return scorer.score([(a, b, query, title)])

    def generate():
        inputs = processor(text=[prompt_chat_text(processor, query, title)], images=[[a, b]], return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=cfg.new_tokens, min_new_tokens=cfg.new_tokens, do_sample=False)
        n_new = out.shape[1] - inputs["input_ids"].shape[1]
        if n_new != cfg.new_tokens:
            raise RuntimeError(f"generate produced {n_new} tokens, not {cfg.new_tokens}")
        return inputs["input_ids"].shape[1]

    _timed_runs(score, cfg.warmup)
    prompt_len = generate()  # also the warm-up of generate
    _timed_runs(generate, max(0, cfg.warmup - 1))
    t_score, t_gen = _timed_runs(score, cfg.runs), _timed_runs(generate, cfg.runs)
    ms, mg = statistics.median(t_score), statistics.median(t_gen)
    return {"benchmark": "verdict_vs_generate", "preset": preset.name, "parameters": sum(p.numel() for p in model.parameters()),
            "torch_threads": torch.get_num_threads(), "prompt_tokens": prompt_len, "new_tokens": cfg.new_tokens, "runs": cfg.runs,
            "scorer_both_orders_s": round(ms, 4), "generate_s": round(mg, 4), "scorer_runs_s": [round(t, 4) for t in t_score],
            "generate_runs_s": [round(t, 4) for t in t_gen], "ratio": round(ms / mg, 4), "limit": cfg.limit, "passed": ms / mg < cfg.limit}
