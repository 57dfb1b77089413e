"""OpenVINO INT8 forms side by side: accuracy against fp32 on each pairs file, and compare time (`openvino_int8_forms.py`)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.bench.machine import machine_summary
from creative4u_small.bench.script_args import require_subset
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.contract.settings import setting
from creative4u_small.data.shift import synthesize_shift
from creative4u_small.runtime import Selector

SHIFT_CALIB_SEED = 104729  # the shift pairs mixed into calibration: never the shift gate's seed or the ones evaluated on


VERDICT_IR = ("vision.", "judge.", "judge_extend.")  # the graphs a form remakes (the decoder's IR is linked as it is)


def _form_folder(export: Path, work: Path, name: str) -> Path:
    """A folder holding links to every file of ``export`` but its verdict graphs' OpenVINO INT8 IR, and a copy of
    its manifest."""
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for f in export.iterdir():
        if not (f.name.startswith(VERDICT_IR) and ".openvino-int8." in f.name) and f.name != "manifest.json":
            os.symlink(f.resolve(), folder / f.name)
    shutil.copy(export / "manifest.json", folder / "manifest.json")
    return folder


def mlp_down_projections(xml: Path) -> list[str]:
    """Names of the weight MatMuls fed by a GELU or by a gated product (an MLP's down projection)."""
    from creative4u_small.export.openvino_ir import _ov

    names = []
    for op in _ov().Core().read_model(str(xml)).get_ordered_ops():
        if op.get_type_name() == "MatMul" and op.input_value(0).get_node().get_type_name() in ("Gelu", "Multiply"):
            names.append(op.get_friendly_name())
    return names


def build(form: str, run, folder: Path, calib_items: list, shift_items: list) -> None:
    """Write ``form``'s INT8 IR of the verdict graphs into ``folder`` and its settings into the manifest there
    (``run``: an ``ExportRun`` over the export; its ``tmp`` is the export folder)."""
    from creative4u_small.export import openvino_ir
    from creative4u_small.runtime import manifest as mf

    m = run_manifest = mf.read_manifest(run.tmp, verify_hashes=False)
    graphs = [g for g in (mf.VISION, mf.JUDGE, mf.JUDGE_EXTEND) if f"{g}.{mf.OPENVINO_FP32}" in run_manifest.graphs]
    feeds = {}
    if form.startswith("static"):
        run.calib_items = calib_items + (shift_items if form == "static-mixed" else [])
        feeds = openvino_ir._static_feeds(run)
    for g in graphs:
        src, dst = run.tmp / f"{g}.{mf.OPENVINO_FP32}.xml", folder / f"{g}.{mf.OPENVINO_INT8}.xml"
        if form.startswith("static"):
            settings = openvino_ir.quantize_ir(src, dst, feeds[g], smooth_quant_alpha=-1 if form == "static-sq-off" else None,
                                               float_names=tuple(mlp_down_projections(src)) if form == "static-mlp-float" else ())
        else:
            settings = openvino_ir.compress_ir(src, dst, group_size=0 if form == "weights-only" else int(form.split("-g")[1]))
        m.graphs[f"{g}.{mf.OPENVINO_INT8}"].quantization = settings
    (folder / "manifest.json").write_text(json.dumps(m.to_dict()))


def accuracy(sel, reference: dict, items: dict, margin: float = 0.05) -> dict:
    out = {}
    for name, its in items.items():
        got, ref = np.array([r.p_a for r in sel.compare_many(its)]), reference[name]
        dp, decisive = np.abs(got - ref), np.abs(ref - 0.5) >= margin
        out[name] = {"pairs": int(dp.size), "decisive": int(decisive.sum()),
                     "agreement": float(((got >= 0.5) == (ref >= 0.5))[decisive].mean()) if decisive.any() else None,
                     "median_abs_dp_a": float(np.median(dp)), "p99_abs_dp_a": float(np.percentile(dp, 99)),
                     "max_abs_dp_a": float(dp.max())}
    return out


def export_run(model: Path, export: Path, threads: int):
    """An ``ExportRun`` over the existing export (the processor and prompt of ``model``), for the static forms' feeds."""
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.export_run import ExportRun
    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.runtime import manifest as mf

    m = mf.read_manifest(export, verify_hashes=False)
    _, processor, verdict_ids = load_model(model)
    cfg = ExportConfig(model=model, out=export, openvino=True, openvino_int8="static", threads=threads)
    return ExportRun(cfg, None, processor, verdict_ids, m.prompt, m.preprocessing, m.dims, tmp=export, entries=m.graphs)


FORMS = ("static", "static-sq-off", "static-mlp-float", "static-mixed", "dynamic-g32", "dynamic-g128", "weights-only", "existing")


@dataclass(frozen=True)
class OpenvinoInt8FormsConfig:
    model: Path = setting(help="The model the export was made from (its processor).")
    export: Path = setting(help="An export with OpenVINO IR (c4u export --openvino).")
    pairs: tuple[Path, ...] = setting(help="Pairs files (comma-separated) to measure accuracy on.")
    calib: Path | None = setting(None, "Calibration pairs of the static forms (training-like).")
    calib_pairs: int = setting(50, "Calibration pairs used (and as many shift pairs for static-mixed).")
    limit: int = setting(0, "First N pairs of each file (0: all).")
    forms: tuple[str, ...] = setting(FORMS[:-1], f"Forms to make and measure, of {', '.join(FORMS)}.")
    time_runs: int = setting(5, "Timed compares per form, the forms alternating.")
    threads: int = setting(2, "Threads of every engine.")
    work: Path = setting(Path("/tmp/c4u_openvino_int8_forms"), "Folder for the forms' IR and the shift calibration pairs.")

    def __post_init__(self):
        require_subset("forms", self.forms, FORMS)
        if any(f.startswith("static") for f in self.forms) and self.calib is None:
            raise ValueError("the static forms need --calib (calibration pairs)")


def openvino_int8_forms(cfg: OpenvinoInt8FormsConfig) -> dict:
    """Each form's accuracy per pairs file and its median compare time."""
    items = {}
    for path in cfg.pairs:
        pairs = load_pairs(path)
        items[path.parent.name] = [(p.image_a, p.image_b, p.query, p.title) for p in (pairs[: cfg.limit] if cfg.limit else pairs)]
    fp32 = Selector.load(cfg.export, backend="cpu", precision="fp32", threads=cfg.threads, verify_hashes=False)
    reference = {k: np.array([r.p_a for r in fp32.compare_many(v)]) for k, v in items.items()}
    run = export_run(cfg.model, cfg.export, cfg.threads)
    calib, shift = [], []
    if any(f.startswith("static") for f in cfg.forms):
        calib = [(p.image_a, p.image_b, p.query, p.title) for p in load_pairs(cfg.calib)[: cfg.calib_pairs]]
        size = max(32, min(run.pre.image_size, 256))
        shift = [(p.image_a, p.image_b, p.query, p.title) for p in
                 load_pairs(synthesize_shift(cfg.calib_pairs, cfg.work / "shift-calib", seed=SHIFT_CALIB_SEED, image_size=size))]
    selectors, report = {}, {}
    for form in cfg.forms:
        t0 = time.perf_counter()
        folder = cfg.export if form == "existing" else _form_folder(cfg.export, cfg.work, form)
        if form != "existing":
            build(form, run, folder, calib, shift)
        selectors[form] = Selector.load(folder, backend="openvino", precision="int8", threads=cfg.threads, verify_hashes=False, probe=False)
        report[form] = {"build_s": round(time.perf_counter() - t0, 1), **accuracy(selectors[form], reference, items)}
        print(json.dumps({form: report[form]}), flush=True)
    for form, ms in _compare_ms(selectors, next(iter(items.values())), cfg.time_runs).items():
        report[form]["compare_ms_p50"] = ms
    return {"bench": "openvino_int8_forms", "export": str(cfg.export), "threads": cfg.threads, "forms": report,
            "machine": machine_summary("cpu", "int8_flags")}


def _compare_ms(selectors: dict, items: list, runs: int) -> dict:
    """Median ms of a compare per form, the forms alternating call by call (a first round untimed)."""
    forms, ms = list(selectors), {f: [] for f in selectors}
    for i in range(runs + 1):
        for f in forms[i % len(forms):] + forms[: i % len(forms)]:
            selectors[f].clear_cache()
            t0 = time.perf_counter()
            selectors[f].compare(*items[i % len(items)])
            if i:
                ms[f].append((time.perf_counter() - t0) * 1000)
    return {f: round(statistics.median(v), 2) if v else None for f, v in ms.items()}
