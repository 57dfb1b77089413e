"""`c4u export` as a plain function: graphs, INT8, OpenVINO IR, TensorRT, Triton, parity, manifest.

Everything is checked before any work (architecture, verdict tokens, calibration file, TensorRT,
output folder), then written into a temporary sibling folder that replaces ``out`` in one rename
once complete, so a crash never leaves a folder whose manifest claims missing files. An export
whose parity fails is still written — marked failed in the manifest and in ``parity.md`` — and
the call then raises ``ParityFailed``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from creative4u_small.contract.artifacts import atomic_dir, versions, write_provenance
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.export import graphs as G
from creative4u_small.export import openvino_ir, shift_gate
from creative4u_small.export import parity as P
from creative4u_small.export.engine_timing import time_compares
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.export.export_inputs import check_model, check_output, load_calib, model_hash, parity_items
from creative4u_small.export.export_run import ExportRun, _noop
from creative4u_small.export.fp16 import convert_fp16
from creative4u_small.export.fuse import fuse_export
from creative4u_small.export.graphs import (
    _io_spec,
    _text_dims,  # the one place that derives head_dim
)
from creative4u_small.export.openvino_ir import check_openvino
from creative4u_small.export.prompt_spec import build_preprocessing, build_prompt_spec, slot_budgets
from creative4u_small.export.quantize import quantize_export
from creative4u_small.export.runtime_check import probe_here, runtime_check, write_probe
from creative4u_small.export.tensorrt_build import EngineVerdictDriver, build_export_engines, check_tensorrt
from creative4u_small.export.triton import write_repository
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.runtime import manifest as mf

DECODER_MAX_DLOGIT = 1e-3  # ceiling on fp32 decoder logits vs the PyTorch wrappers


class ParityFailed(RuntimeError):
    """The export was written but marked failed: its graphs do not reproduce the PyTorch verdicts."""


# ---------------------------------------------------------------- the export


def run_export(cfg: ExportConfig, progress=None) -> dict:
    """Export ``cfg.model`` into ``cfg.out``; returns a summary. Raises ParityFailed after writing a failed export."""
    import torch

    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _run_export(cfg, progress)
    finally:
        torch.set_num_threads(threads)


def _run_export(cfg: ExportConfig, progress=None) -> dict:
    """The export as a sequence of steps over one ``ExportRun``; the manifest is written once, after every check."""
    import torch

    model_type, calib_pairs = _check_inputs(cfg)
    run = _load(cfg, progress or _noop)
    torch.manual_seed(cfg.seed)
    with tempfile.TemporaryDirectory(prefix="c4u-export-") as work:
        run.work = Path(work)
        run.calib_items, run.held_items, run.parity_source = parity_items(cfg, calib_pairs, run.pre.image_size, run.work)
        run.shift_items = shift_gate.shift_items(run)
        run.reference = _reference(run)
        run.model.set_attn_implementation("eager")
        with atomic_dir(Path(cfg.out), overwrite=cfg.overwrite) as tmp:
            run.tmp = tmp
            _export_graphs(run)
            _fuse(run)
            _save_tokenizer(cfg.model, run.processor, tmp / mf.TOKENIZER_FILE)
            run.parity["fp32"] = _fp32_parity(run)
            if cfg.fp16:
                _convert_fp16(run)
            if cfg.int8 or cfg.trt:
                quantize_export(run)
            _variant_parity(run)
            if cfg.openvino:
                openvino_ir.export_openvino(run)
                run.parity.update(openvino_ir.parity(run))
            tensorrt = _tensorrt(run)
            triton_models = _write_triton(run, tensorrt) if cfg.triton else None
            manifest = _manifest(run, model_type, tensorrt)
            _runtime_checks(run, manifest)
            _write_manifest_and_reports(run, manifest)
            run.progress("done", 1, 1)
    return _finish(cfg, manifest, run.exporters, run.parity_source, triton_models)


# ---------------------------------------------------------------- the steps


def _check_inputs(cfg: ExportConfig):
    """Everything checked before any work: output folder, model, TensorRT, calibration pairs."""
    check_output(cfg)
    model_type = check_model(cfg.model)
    if cfg.openvino:
        check_openvino()
    if cfg.trt:
        check_tensorrt()
    return model_type, load_calib(cfg)


def _load(cfg: ExportConfig, progress) -> ExportRun:
    """The model, its processor and what the manifest derives from them (prompt, preprocessing, dimensions)."""
    model, processor, verdict_ids = load_model(cfg.model)
    spec = build_prompt_spec(processor, eos_token_ids=_eos_ids(model))
    spec.max_slot_tokens = slot_budgets(cfg.model, cfg.max_slot_tokens)
    return ExportRun(cfg, model, processor, verdict_ids, spec, build_preprocessing(processor), _dims(model, processor), progress)


def _reference(run: ExportRun) -> np.ndarray:
    """The PyTorch scorer's logits on the held-out pairs: what every exported path must reproduce."""
    items = run.held_items

    def step(done: int) -> None:
        run.progress("PyTorch reference", min(done, len(items)), len(items))

    step(0)
    return P.reference_logits(run.model, run.processor, run.verdict_ids, items, run.cfg.batch_size, step)


def _export_graphs(run: ExportRun) -> None:
    """The fp32 ONNX graphs into the run's entries, with the exporter used per graph."""
    cfg, model, dims = run.cfg, run.model, run.dims
    kw = {"opset": cfg.opset, "prefer_dynamo": cfg.prefer_dynamo}
    plan = {mf.VISION: (G.export_vision, (model, run.pre.image_size)),
            mf.JUDGE: (G.export_judge, (model, run.verdict_ids, dims.image_seq_len)),
            mf.JUDGE_EXTEND: (G.export_judge_extend, (model, run.verdict_ids, dims.image_seq_len))}
    if cfg.decoder:
        plan[mf.DECODER_PREFILL] = (G.export_prefill, (model, dims.image_seq_len))
        plan[mf.DECODER_STEP] = (G.export_step, (model,))
    for i, (key, (export_fn, args)) in enumerate(plan.items()):
        run.progress(f"export {key}", i, len(plan))
        g = export_fn(*args, run.tmp / f"{key}.onnx", **kw)
        g.entry.exporter = g.exporter
        run.entries[key] = g.entry
        run.exporters[key] = {"exporter": g.exporter, "dynamo_error": g.dynamo_error}
    run.progress("export", len(plan), len(plan))


def _fp32_parity(run: ExportRun) -> dict:
    """The fp32 vision and judge graphs against the reference; the decoder graphs against the PyTorch wrappers."""
    cfg = run.cfg
    run.progress("parity fp32", 0, 1)
    figures = run.against_reference(run.held_logits(P.OrtVerdictDriver(run.file(mf.VISION), run.file(mf.JUDGE), threads=cfg.threads)), "fp32")
    figures["graphs"] = [mf.VISION, mf.JUDGE]
    if cfg.decoder:
        figures["decoder"] = P.decoder_check(run.model, run.processor, run.held_items[:2], run.tmp, run.entries, cfg.threads)
        worst = figures["decoder"]["max_abs_dlogit"]
        if worst > DECODER_MAX_DLOGIT:
            P.mark_failed(figures, f"decoder logits differ from PyTorch by {worst:.2e} (> {DECODER_MAX_DLOGIT:.0e})")
    return figures


def _variant_parity(run: ExportRun) -> None:
    """Each reduced-precision variant written (dynamic ``int8``, QDQ ``int8-qdq`` for TensorRT, ``fp16``) against
    the reference; FP16 graphs that ONNX Runtime cannot run on this machine are "unverified", with the reason."""
    cfg = run.cfg
    variants = (["int8"] if cfg.int8 else []) + (["int8-qdq"] if cfg.trt else []) + (["fp16"] if cfg.fp16 else [])
    for prec in variants:
        run.progress(f"parity {prec}", 0, 1)
        vision, judge = f"{mf.VISION}.{prec}", f"{mf.JUDGE}.{prec}"
        try:
            drv = P.OrtVerdictDriver(run.file(vision), run.file(judge), threads=cfg.threads, reference_semantics=prec == "int8-qdq")
        except Exception as e:  # noqa: BLE001 - ORT's own exception types; only FP16 may lack CPU kernels
            if prec != "fp16":
                raise
            figures = P.failed_run(run.reference, run.floors(prec), cfg.margin, cfg.min_decisive, "ONNX Runtime's CPU provider "
                                   f"cannot run the FP16 graphs here ({str(e).splitlines()[0][:200]}); the parity probe checks "
                                   "them on the GPU at load", status="unverified") | {"runs_here": False}
        else:
            figures = run.against_reference(run.held_logits(drv), prec)
            if prec == "fp16":
                figures["provider"] = "CPUExecutionProvider (fp16 kernels of the CPU, not a GPU's)"
        figures["graphs"] = [vision, judge]
        if prec.startswith("int8"):
            figures["calibration"] = run.calibration
        run.parity[prec] = figures


def _tensorrt(run: ExportRun) -> dict:
    """TensorRT engines from the QDQ graphs (``--trt``) and their parity, run by the runtime's engine runner."""
    if not run.cfg.trt:
        return {}
    cfg = run.cfg
    tensorrt = build_export_engines(run)
    run.progress("parity tensorrt", 0, 1)
    batch = max(1, min(cfg.batch_size, cfg.trt_max_rows // 2, cfg.trt_max_images // 2))
    logits = P.exported_logits(EngineVerdictDriver(run.tmp, tensorrt), run.processor, run.held_items, batch)
    run.parity["tensorrt-int8"] = run.against_reference(logits, "int8") | {
        "graphs": [tensorrt["engines"][r]["file"] for r in (mf.VISION, mf.JUDGE)]}
    return tensorrt


def _fuse(run: ExportRun) -> None:
    """Transformer fusions of the fp32 graphs (``--fuse``, the default); keeps the unfused files for TensorRT."""
    if not run.cfg.fuse:
        for entry in run.entries.values():
            entry.optimization = {"fused": {}, "reason": "--no-fuse: graphs as exported"}
        return
    run.unfused = fuse_export(run.tmp, run.work, run.entries, run.model, run.progress)


def _convert_fp16(run: ExportRun) -> None:
    """``<graph>.fp16`` variants of every fp32 graph (``--fp16``)."""
    graphs = [k for k, e in run.entries.items() if e.precision == "fp32"]
    for i, key in enumerate(graphs):
        run.progress("FP16 graphs", i, len(graphs))
        dst = run.tmp / f"{key}.fp16.onnx"
        settings = convert_fp16(run.file(key), dst)
        inputs, outputs = _io_spec(dst)
        run.entries[f"{key}.fp16"] = mf.GraphEntry(dst.name, inputs, outputs, "fp16", "onnxruntime.transformers.float16",
                                                   key, settings, dict(run.entries[key].optimization))


def _write_triton(run: ExportRun, tensorrt: dict) -> list[str]:
    run.progress("triton repository", 0, 1)
    return write_repository(run.tmp, run.entries, run.dims, run.cfg.opset, tensorrt.get("engines"))


def _manifest(run: ExportRun, model_type: str, tensorrt: dict) -> mf.Manifest:
    cfg = run.cfg
    return mf.Manifest(
        format_version=mf.FORMAT_VERSION,
        source_model={"path": str(Path(cfg.model).resolve()), "model_type": model_type, **model_hash(cfg.model)},
        versions=versions() | {"opset": cfg.opset, "exporters": run.exporters}, graphs=run.entries,
        preprocessing=run.pre, prompt=run.spec, dims=run.dims, parity=run.parity, status="unverified",
        tensorrt=tensorrt, machine=cpu_info(),
    )


def _runtime_checks(run: ExportRun, manifest: mf.Manifest) -> None:
    """The runtime on what is about to be published: the probe written and replayed, fp32 parity through
    ``Selector``, the shift gate of every INT8 variant, and each CPU engine timed."""
    run.progress("parity probe", 0, 1)
    manifest.probe = write_probe(run, manifest)
    run.progress("parity runtime", 0, 1)
    run.parity["runtime-fp32"] = runtime_check(run, manifest)
    manifest.probe["export_machine"] = probe_here(run.tmp, manifest, run.cfg, run.parity)
    manifest.shift = shift_gate.gate(run, manifest)
    manifest.timing = time_compares(run, manifest)
    run.selectors.clear()  # the graphs the probe, the gate and the timing held open


def _write_manifest_and_reports(run: ExportRun, manifest: mf.Manifest) -> None:
    """The overall status, parity.md, provenance, then the manifest (last: it hashes every file written)."""
    for figures in manifest.parity.values():
        figures["pairs_source"] = run.parity_source
    manifest.status = P.overall_status(manifest.parity)
    (run.tmp / mf.PARITY_FILE).write_text(P.parity_markdown(manifest.parity, manifest.status, str(run.cfg.model), manifest.shift))
    write_provenance(run.tmp, "export", run.cfg.to_dict(), {"status": manifest.status, "parity_pairs": run.parity_source})
    mf.write_manifest(run.tmp, manifest)


def _finish(cfg: ExportConfig, manifest: mf.Manifest, exporters: dict, parity_source: str, triton_models) -> dict:
    """The summary, or ParityFailed once the failed export is in place."""
    summary = {"status": manifest.status, "parity": manifest.parity, "parity_pairs": parity_source,
               "shift": {k: {f: v.get(f) for f in ("status", "reason", "p99_abs_dp_a", "max_abs_dp_a")}
                         for k, v in manifest.shift.get("variants", {}).items()},
               "compare_ms": manifest.timing.get("compare_ms", {}),
               "graphs": sorted(manifest.graphs), "exporters": {k: v["exporter"] for k, v in exporters.items()},
               "out": str(cfg.out),
               "sizes_bytes": {e.file: (Path(cfg.out) / e.file).stat().st_size for e in manifest.graphs.values()}}
    if triton_models is not None:
        summary["triton_models"] = triton_models
    if manifest.status == "failed":
        reasons = "; ".join(f"{k}: {v['reason']}" for k, v in manifest.parity.items() if v["status"] == "failed")
        raise ParityFailed(f"parity FAILED ({reasons}); {cfg.out} is written but marked failed — see {Path(cfg.out) / mf.PARITY_FILE}")
    return summary


# ---------------------------------------------------------------- helpers


def _eos_ids(model) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        return []
    return [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]


def _dims(model, processor) -> mf.ModelDims:
    layers, kv_heads, head_dim, hidden = _text_dims(model)
    return mf.ModelDims(image_seq_len=int(processor.image_seq_len), hidden_size=int(hidden), num_layers=int(layers),
                        num_kv_heads=int(kv_heads), head_dim=int(head_dim), vocab_size=int(model.config.text_config.vocab_size))


def _save_tokenizer(model_dir: Path, processor, dst: Path) -> None:
    src = Path(model_dir) / mf.TOKENIZER_FILE
    if src.is_file():
        shutil.copyfile(src, dst)
    else:
        processor.tokenizer.backend_tokenizer.save(str(dst))


