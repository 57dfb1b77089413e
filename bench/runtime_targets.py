"""The runtime against its speed targets (`benchmarks/bench_runtime.py`): against the transformers baseline, or
several backends side by side.

Against the baseline (one backend): the export's fp32 and INT8 graphs and the PyTorch model on the same
synthetic workload (``run_bench``), checked against ``TARGETS``. Several backends (``ort,openvino``; ``ort`` is
ONNX Runtime's CPU backend, ``cpu``): measured side by side in one process, call by call alternating
(``side_by_side``), at one precision; the target is the second backend's compare >= 1.4x faster than the first's.
Without ``--export``, a random-weight model of ``--preset`` and its export are built once in ``--workdir``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.bench.bench_config import BenchConfig
from creative4u_small.bench.machine import machine_summary
from creative4u_small.bench.runtime_bench import run_bench
from creative4u_small.bench.side_by_side import default_comparisons, selectors_for, side_by_side
from creative4u_small.bench.workload import workload
from creative4u_small.runtime import engines
from creative4u_small.contract.settings import setting

TARGETS = {
    "int8_compare_vs_generate": 3.0,
    "int8_compare_vs_fp32": 1.3,
    "rank16_vs_scorer_all_ordered_pairs": 5.0,
}
SIDE_BY_SIDE_TARGET = 1.4  # compare p50 of the second backend against the first's
BACKEND_ALIASES = {"ort": "cpu"}
REUSE = {"on": (True,), "off": (False,), "both": (True, False)}


@dataclass(frozen=True)
class RuntimeTargetsConfig:
    CHOICES = {"prefix_reuse": tuple(REUSE)}
    preset: str = setting("smolvlm-256m-shape", "Model preset built (random weights) and exported when no --export is given.")
    workdir: Path = setting(Path("/tmp/c4u_bench_runtime"), "Folder for the built model and export, the workload and the reports.")
    export: Path | None = setting(None, "Existing export folder (skips building one).")
    model: Path | None = setting(None, "The model the export came from (for the transformers baseline; needed with --export and one backend).")
    calib_pairs: int = setting(2, "Parity pairs for the built export (memory grows with it).")
    export_batch_size: int = setting(1, "Pairs per parity batch of the built export (a 512 px batch of 8 pairs needs > 20 GB).")
    backends: tuple[str, ...] = setting(("cpu",), "One backend: the runs against transformers; several (e.g. ort,openvino): side by side, alternating.")
    precision: str = setting("int8", "Precision of every backend side by side.")
    prefix_reuse: str = setting("on", "Side by side: judge with prefix reuse, without, or both (each backend twice).")
    runs: int = setting(5, "Timed compares per backend.")
    warmup: int = setting(1, "Untimed runs before each measurement.")
    batch_sizes: tuple[int, ...] = setting((1, 8), "Pairs per compare_many call for pairs per second (against the baseline).")
    rank_sizes: tuple[int, ...] = setting((8, 16), "Pool sizes for the rank timings.")
    rank_runs: int = setting(1, "Side by side: timed ranks per pool size and backend.")
    generate_tokens: int = setting(128, "Rationale tokens for the explain timing and the transformers generate baseline.")
    explain_runs: int = setting(2, "Timed explain compares (and baseline generate calls).")
    threads: int = setting(0, "ONNX Runtime intra-op threads (0: its default).")
    out: Path | None = setting(None, "JSON report (default: WORKDIR/bench.json, side by side WORKDIR/side_by_side.json) and a PNG beside it.")

    def __post_init__(self):
        if self.export is not None and self.model is None and not self.side_by_side:
            raise ValueError("--export needs --model for the transformers baseline (or give several --backends)")

    @property
    def side_by_side(self) -> bool:
        return len(self.backends) > 1 or self.prefix_reuse != "on"

    def bench_config(self, export: Path, **more) -> BenchConfig:
        """The ``BenchConfig`` these settings make for ``export`` (``more``: the fields that differ by mode)."""
        return BenchConfig(export=export, backends=tuple(BACKEND_ALIASES.get(b, b) for b in self.backends), runs=self.runs, warmup=self.warmup, rank_sizes=self.rank_sizes,
                           generate_tokens=self.generate_tokens, explain_runs=self.explain_runs, threads=self.threads, **more)


def ensure_export(cfg: RuntimeTargetsConfig) -> tuple[Path, Path]:
    """(model folder, export folder): ``cfg.model``/``cfg.export``, or ``cfg.preset`` built under ``cfg.workdir`` on
    first use (with OpenVINO IR when an openvino backend is asked for)."""
    if cfg.export is not None:
        return cfg.model, cfg.export
    from creative4u_small.runtime.manifest import MANIFEST_FILE

    model, export = cfg.workdir / "model", cfg.workdir / "export"
    if not (model / "config.json").is_file():
        from creative4u_small.modeling.model_init import init_model

        print(f"initialising {cfg.preset} into {model}", flush=True)
        init_model(cfg.preset, model, seed=0, overwrite=True)
    if not (export / MANIFEST_FILE).is_file():
        from creative4u_small.export.export_config import ExportConfig
        from creative4u_small.export.exporter import run_export

        openvino = engines.OPENVINO in [engines.engine(BACKEND_ALIASES.get(b, b)) for b in cfg.backends]  # IR for the backends measured
        print(f"exporting {model} (fp32 + INT8{' + OpenVINO IR' if openvino else ''}) into {export}", flush=True)
        run_export(ExportConfig(model=model, out=export, int8=True, openvino=openvino, calib_pairs=cfg.calib_pairs,
                                batch_size=cfg.export_batch_size, overwrite=True), _print_progress(time.perf_counter()))
    return model, export


def _print_progress(t0: float):
    return lambda stage, done, total: print(f"  [{time.perf_counter() - t0:7.1f}s] {stage} {done}/{total}", flush=True)


def headline(report: dict, backend: str = "cpu") -> dict:
    """The figures the targets are about, with pass/fail."""
    ratios = report["ratios"]
    int8, fp32 = ratios.get(f"{backend}/int8", {}), ratios.get(f"{backend}/fp32", {})
    figures = {
        "int8_compare_vs_generate": int8.get("compare_vs_generate"),
        "int8_compare_vs_fp32": int8.get("compare_vs_fp32"),
        "rank16_vs_scorer_all_ordered_pairs": int8.get("rank16_vs_scorer_all_ordered_pairs"),
        "fp32_rank16_vs_scorer_all_ordered_pairs": fp32.get("rank16_vs_scorer_all_ordered_pairs"),
        "int8_compare_explain_vs_generate": int8.get("compare_explain_vs_generate"),
        "fp32_compare_vs_generate": fp32.get("compare_vs_generate"),
    }
    met = {k: (figures[k] is not None and figures[k] >= t) for k, t in TARGETS.items()}
    ms = {k: v["compare_ms"]["p50"] for k, v in report["backends"].items() if "compare_ms" in v}
    base = report.get("baseline", {})
    ms.update({"transformers_generate": base.get("generate_ms", {}).get("p50"), "transformers_scorer": base.get("scorer_compare_ms", {}).get("p50")})
    return {"compare_p50_ms": ms, "ratios": figures, "targets": TARGETS, "met": met}


def against_baseline(cfg: RuntimeTargetsConfig) -> dict:
    """fp32 and INT8 of one backend against the transformers baseline (``c4u bench``'s ``run_bench``): the JSON line."""
    model, export = ensure_export(cfg)
    out = cfg.out or (cfg.workdir / "bench.json")
    bench = cfg.bench_config(export, precisions=("fp32", "int8"), baseline="transformers", model=model, batch_sizes=cfg.batch_sizes,
                             json_out=out, plot=out.with_suffix(".png"))
    t0 = time.perf_counter()
    report = run_bench(bench, _print_progress(t0), workdir=cfg.workdir / "workload")
    return {"bench": "runtime", "export": str(export), "wall_s": round(time.perf_counter() - t0, 1), "report": str(out),
            "machine": {k: report["machine"][k] for k in ("cpu", "cores")}, **headline(report, bench.backends[0])}


def backends_side_by_side(cfg: RuntimeTargetsConfig) -> dict:
    """Every backend at ``cfg.precision`` in one process, alternating call by call; the full report is written to
    ``cfg.out``, the JSON line returned."""
    export = ensure_export(cfg)[1]
    bench = cfg.bench_config(export, precisions=(cfg.precision,), batch_sizes=(1,))
    selectors = selectors_for(bench, REUSE[cfg.prefix_reuse])
    items = workload(bench, cfg.workdir / "workload", next(iter(selectors.values())).manifest.preprocessing.image_size)
    t0 = time.perf_counter()
    report = side_by_side(selectors, items, bench, _print_progress(t0), cfg.rank_runs, default_comparisons(list(selectors)))
    ratio = next(iter(report["ratios"].values()))
    out = cfg.out or (cfg.workdir / "side_by_side.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    return {"bench": "runtime side by side", "export": str(export), "precision": cfg.precision, "runs": cfg.runs, "machine": machine_summary(),
            "p50_ms": {k: {m: round(v[m]["p50"], 2) for m in ("compare", "vision_per_image", "judge", "compare_explain") if m in v}
                       | {f"rank{n}_s": round(r["p50"], 3) for n, r in v.get("rank_s", {}).items()}
                       for k, v in report["backends"].items()},
            "ratios": report["ratios"], "target_compare_ratio": SIDE_BY_SIDE_TARGET,
            "met": ratio.get("compare", 0) >= SIDE_BY_SIDE_TARGET, "wall_s": round(time.perf_counter() - t0, 1), "report": str(out)}


def bench_runtime(cfg: RuntimeTargetsConfig) -> dict:
    """The script's run: side by side with several backends (or prefix reuse off/both), else against the baseline."""
    return backends_side_by_side(cfg) if cfg.side_by_side else against_baseline(cfg)
