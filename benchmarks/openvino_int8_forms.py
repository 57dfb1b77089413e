"""OpenVINO INT8 forms side by side: accuracy against fp32 on the shift set and on held-out pairs, and speed.

From an export with OpenVINO IR (`c4u export --openvino`) and the model it came from, each form's INT8 IR of the
verdict graphs (vision, judge, judge_extend) is made into a folder of its own beside the export's other files:

- ``static``: NNCF post-training INT8 (transformer preset, SmoothQuant at 0.95), static activation ranges
  calibrated on ``--calib`` pairs (as `--openvino-int8 static`);
- ``static-sq-off``: the same without SmoothQuant;
- ``static-mlp-float``: the same with every MLP down-projection (the MatMul after GELU or the gated SiLU product,
  where activations have the largest outliers) left float;
- ``static-mixed``: calibrated on ``--calib`` pairs and as many distribution-shift pairs (their own seed, never
  the pairs evaluated on);
- ``dynamic-gN``: INT8 weights (nncf.compress_weights INT8_SYM) with the CPU plugin quantizing activations at run
  time in groups of N input channels (as `--openvino-int8 dynamic`, N = 32);
- ``weights-only``: INT8 weights, activations float (dynamic quantization off);
- ``existing``: the export's own INT8 IR as it is.

Each form runs through the runtime's Selector (OpenVINO, INT8) on every ``--pairs`` file against ONNX Runtime's
fp32 graphs: verdict agreement over decisive pairs, median, p99 and max |Δp_a|; then compares are timed, the forms
alternating call by call in this one process (new creatives every call). Prints one JSON line last.

    python benchmarks/openvino_int8_forms.py --model MODEL --export EXPORT --calib TRAIN_PAIRS \\
        --pairs SHIFT_PAIRS HELDOUT_PAIRS --forms static,static-mixed,dynamic-g32,weights-only --time-runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

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
            settings = openvino_ir.compress_ir(src, dst)
            group = "0" if form == "weights-only" else form.split("-g")[1]
            settings["compile_properties"] = {"DYNAMIC_QUANTIZATION_GROUP_SIZE": group}
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


def main() -> None:
    from creative4u_small.contract.cpu_info import cpu_info
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.data.shift import synthesize_shift
    from creative4u_small.runtime import Selector

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="the model the export was made from (its processor)")
    ap.add_argument("--export", type=Path, required=True, help="an export with OpenVINO IR")
    ap.add_argument("--calib", type=Path, help="calibration pairs of the static forms (training-like)")
    ap.add_argument("--calib-pairs", type=int, default=50)
    ap.add_argument("--pairs", type=Path, nargs="+", required=True, help="pairs files to measure accuracy on")
    ap.add_argument("--limit", type=int, default=0, help="first N pairs of each file (0: all)")
    ap.add_argument("--forms", default="static,static-sq-off,static-mlp-float,static-mixed,dynamic-g32,dynamic-g128,weights-only")
    ap.add_argument("--time-runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/c4u_openvino_int8_forms"))
    args = ap.parse_args()

    forms = args.forms.split(",")
    items = {}
    for path in args.pairs:
        pairs = load_pairs(path)
        pairs = pairs[: args.limit] if args.limit else pairs
        items[path.parent.name] = [(p.image_a, p.image_b, p.query, p.title) for p in pairs]
    fp32 = Selector.load(args.export, backend="cpu", precision="fp32", threads=args.threads, verify_hashes=False)
    reference = {k: np.array([r.p_a for r in fp32.compare_many(v)]) for k, v in items.items()}
    run = export_run(args.model, args.export, args.threads)
    calib, shift = [], []
    if any(f.startswith("static") for f in forms):
        calib = [(p.image_a, p.image_b, p.query, p.title) for p in load_pairs(args.calib)[: args.calib_pairs]]
        size = max(32, min(run.pre.image_size, 256))
        shift = [(p.image_a, p.image_b, p.query, p.title) for p in
                 load_pairs(synthesize_shift(args.calib_pairs, args.work / "shift-calib", seed=SHIFT_CALIB_SEED, image_size=size))]
    selectors, report = {}, {}
    for form in forms:
        t0 = time.perf_counter()
        folder = args.export if form == "existing" else _form_folder(args.export, args.work, form)
        if form != "existing":
            build(form, run, folder, calib, shift)
        selectors[form] = Selector.load(folder, backend="openvino", precision="int8", threads=args.threads, verify_hashes=False, probe=False)
        report[form] = {"build_s": round(time.perf_counter() - t0, 1), **accuracy(selectors[form], reference, items)}
        print(json.dumps({form: report[form]}), flush=True)
    timing_items = next(iter(items.values()))
    ms = {f: [] for f in forms}
    for i in range(args.time_runs + 1):
        for f in forms[i % len(forms):] + forms[: i % len(forms)]:
            selectors[f].clear_cache()
            t0 = time.perf_counter()
            selectors[f].compare(*timing_items[i % len(timing_items)])
            if i:
                ms[f].append((time.perf_counter() - t0) * 1000)
    for f in forms:
        report[f]["compare_ms_p50"] = round(statistics.median(ms[f]), 2) if ms[f] else None
    info = cpu_info()
    print(json.dumps({"bench": "openvino_int8_forms", "export": str(args.export), "threads": args.threads, "forms": report,
                      "machine": {"cpu": info["model"], "int8_flags": info["int8_flags"]}}))


if __name__ == "__main__":
    main()
