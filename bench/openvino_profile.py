"""Where the time goes, OpenVINO INT8 against ONNX Runtime INT8 (`openvino_profile.py`): kernel time by kind of the
vision graph on one creative and the judge on one compare's two order rows, against this CPU's measured GEMM rates."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.bench.kernel_profile import GEMM, compare_feeds, gemm_rates, openvino_gemm_rates, profile_ir, profile_ops, rates_against, work
from creative4u_small.bench.machine import machine_summary
from creative4u_small.bench.workload import synthetic_items
from creative4u_small.contract.settings import setting
from creative4u_small.runtime.selector import Selector

GRAPHS = ("vision", "judge")


@dataclass(frozen=True)
class OpenvinoProfileConfig:
    export: Path = setting(help="Export with INT8 graphs and OpenVINO IR (c4u export --int8 --openvino).")
    model: Path = setting(help="The model it was exported from (for the work estimate).")
    runs: int = setting(10, "Profiled calls per graph after one warm-up.")
    threads: int = setting(0, "Intra-op threads of both engines (0: their default).")
    image_size: int = setting(512, "Side of the synthetic creative.")


def _properties(sel: Selector, graph: str) -> dict | None:
    """The compile properties the runtime sets for ``graph`` (how the INT8 IR quantizes its activations at run time)."""
    return sel.manifest.graphs[sel.graph_keys[graph]].quantization.get("compile_properties")


def openvino_profile(cfg: OpenvinoProfileConfig) -> dict:
    """Both engines' graphs profiled on the same feeds, with the work and the measured GEMM rates beside them."""
    ort = Selector.load(cfg.export, backend="cpu", precision="int8", threads=cfg.threads)
    ov = Selector.load(cfg.export, backend="openvino", precision="int8", threads=cfg.threads)
    with tempfile.TemporaryDirectory() as tmp:
        feeds = compare_feeds(ort, synthetic_items(1, Path(tmp) / "pairs", 3, cfg.image_size)[0])
    judge_len = feeds["judge"]["input_ids"].shape[1]
    w = work(cfg.model, judge_len)
    path = {name: {g: sel.export_dir / sel.manifest.graphs[sel.graph_keys[g]].file for g in GRAPHS} for name, sel in (("ort", ort), ("openvino", ov))}
    prof = {"ort": {g: profile_ops(path["ort"][g], feeds[g], cfg.threads, cfg.runs) for g in GRAPHS},
            "openvino": {g: profile_ir(path["openvino"][g], feeds[g], "int8", cfg.threads, cfg.runs, _properties(ov, g)) for g in GRAPHS}}
    gemm = {"ort": gemm_rates(cfg.threads, *GEMM), "openvino": openvino_gemm_rates(cfg.threads)}
    for engine in prof:
        rates_against(prof[engine], w, gemm[engine])
    return {"bench": "openvino_profile", "export": str(cfg.export), "runs": cfg.runs, "threads": cfg.threads,
            **machine_summary("cpu", "cores", "int8_flags"), "openvino": ov.describe()["openvino"], "judge_tokens": judge_len,
            "work_gop": w, "gemm_gops": gemm, "profile": prof,
            "kernel_ms_ratio_ort_over_openvino": {g: prof["ort"][g]["kernel_ms_total"] / prof["openvino"][g]["kernel_ms_total"] for g in GRAPHS}}
