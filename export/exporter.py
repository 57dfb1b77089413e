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
from creative4u_small.export import openvino_ir
from creative4u_small.export import parity as P
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.export.export_inputs import check_model, check_output, load_calib, model_hash, parity_items
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


def _noop(stage: str, done: int, total: int) -> None:
    pass


# ---------------------------------------------------------------- checks before any work


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
    """The export as a sequence of steps; the manifest is written once, after every parity check."""
    import torch

    progress = progress or _noop
    model_type, calib_pairs = _check_inputs(cfg)
    model, processor, verdict_ids = load_model(cfg.model)
    spec = build_prompt_spec(processor, eos_token_ids=_eos_ids(model))
    spec.max_slot_tokens = slot_budgets(cfg.model, cfg.max_slot_tokens)
    pre = build_preprocessing(processor)
    dims = _dims(model, processor)
    torch.manual_seed(cfg.seed)

    with tempfile.TemporaryDirectory(prefix="c4u-export-") as work:
        calib_items, held_items, parity_source = parity_items(cfg, calib_pairs, pre.image_size, Path(work))
        reference = _reference(cfg, model, processor, verdict_ids, held_items, progress)
        model.set_attn_implementation("eager")
        with atomic_dir(Path(cfg.out), overwrite=cfg.overwrite) as tmp:
            entries, exporters = _export_graphs(cfg, model, verdict_ids, dims, pre.image_size, tmp, progress)
            unfused = _fuse(cfg, tmp, Path(work), entries, model, progress)
            _save_tokenizer(cfg.model, processor, tmp / mf.TOKENIZER_FILE)
            parity = {"fp32": _fp32_parity(cfg, reference, model, processor, held_items, tmp, entries, progress)}
            if cfg.fp16:
                _convert_fp16(tmp, entries, progress)
            calibration = _quantize(cfg, tmp, entries, processor, calib_items, model, progress, unfused)
            parity.update(_variant_parity(cfg, reference, processor, held_items, tmp, entries, calibration, progress))
            if cfg.openvino:
                parity.update(_openvino(cfg, reference, processor, calib_items, held_items, tmp, entries, progress, unfused))
            tensorrt = {}
            if cfg.trt:
                tensorrt = _build_trt(cfg, tmp, entries, spec, dims, pre, progress)
                parity["tensorrt-int8"] = _engine_parity(cfg, reference, processor, held_items, tmp, tensorrt, progress)
            triton_models = _write_triton(tmp, entries, dims, cfg.opset, tensorrt, progress) if cfg.triton else None
            manifest = mf.Manifest(
                format_version=mf.FORMAT_VERSION,
                source_model={"path": str(Path(cfg.model).resolve()), "model_type": model_type, **model_hash(cfg.model)},
                versions=_versions(cfg, exporters), graphs=entries, preprocessing=pre, prompt=spec, dims=dims,
                parity=parity, status="unverified", tensorrt=tensorrt, machine=cpu_info(),
            )
            progress("parity probe", 0, 1)
            manifest.probe = write_probe(cfg, tmp, manifest, processor, held_items)
            progress("parity runtime", 0, 1)
            parity["runtime-fp32"] = runtime_check(tmp, manifest, reference, held_items, cfg)
            manifest.probe["export_machine"] = probe_here(tmp, manifest, cfg, parity)
            _write_manifest_and_reports(cfg, tmp, manifest, parity_source)
            progress("done", 1, 1)
    return _finish(cfg, manifest, exporters, parity_source, triton_models)


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


def _reference(cfg: ExportConfig, model, processor, verdict_ids, items, progress) -> np.ndarray:
    """The PyTorch scorer's logits on the held-out pairs: what every exported path must reproduce."""

    def step(done: int) -> None:
        progress("PyTorch reference", min(done, len(items)), len(items))

    step(0)
    return P.reference_logits(model, processor, verdict_ids, items, cfg.batch_size, step)


def _export_graphs(cfg: ExportConfig, model, verdict_ids, dims, image_size: int, tmp: Path, progress):
    """The fp32 ONNX graphs: (manifest entries, exporter used per graph)."""

    kw = {"opset": cfg.opset, "prefer_dynamo": cfg.prefer_dynamo}
    plan = {mf.VISION: (G.export_vision, (model, image_size)),
            mf.JUDGE: (G.export_judge, (model, verdict_ids, dims.image_seq_len))}
    if cfg.decoder:
        plan[mf.DECODER_PREFILL] = (G.export_prefill, (model, dims.image_seq_len))
        plan[mf.DECODER_STEP] = (G.export_step, (model,))
    entries, exporters = {}, {}
    for i, (key, (export_fn, args)) in enumerate(plan.items()):
        progress(f"export {key}", i, len(plan))
        g = export_fn(*args, tmp / f"{key}.onnx", **kw)
        g.entry.exporter = g.exporter
        entries[key] = g.entry
        exporters[key] = {"exporter": g.exporter, "dynamo_error": g.dynamo_error}
    progress("export", len(plan), len(plan))
    return entries, exporters


def _fp32_parity(cfg: ExportConfig, reference, model, processor, items, tmp: Path, entries: dict, progress) -> dict:
    """The fp32 vision and judge graphs against the reference; the decoder graphs against the PyTorch wrappers."""

    progress("parity fp32", 0, 1)
    drv = P.OrtVerdictDriver(tmp / entries[mf.VISION].file, tmp / entries[mf.JUDGE].file, threads=cfg.threads)
    figures = P.compare(reference, P.exported_logits(drv, processor, items, cfg.batch_size),
                        P.Floors(cfg.fp32_agreement, cfg.fp32_max_dp), cfg.margin, cfg.min_decisive)
    figures["graphs"] = [mf.VISION, mf.JUDGE]
    if cfg.decoder:
        figures["decoder"] = P.decoder_check(model, processor, items[:2], tmp, entries, cfg.threads)
        worst = figures["decoder"]["max_abs_dlogit"]
        if worst > DECODER_MAX_DLOGIT:
            P.mark_failed(figures, f"decoder logits differ from PyTorch by {worst:.2e} (> {DECODER_MAX_DLOGIT:.0e})")
    return figures


def _variant_parity(cfg: ExportConfig, reference, processor, items, tmp: Path, entries: dict, calibration: dict,
                    progress) -> dict:
    """Each reduced-precision variant written (dynamic ``int8``, QDQ ``int8-qdq`` for TensorRT, ``fp16``) against
    the reference; FP16 graphs that ONNX Runtime cannot run on this machine are "unverified", with the reason."""

    variants = (["int8"] if cfg.int8 else []) + (["int8-qdq"] if cfg.trt else []) + (["fp16"] if cfg.fp16 else [])
    out = {}
    for prec in variants:
        progress(f"parity {prec}", 0, 1)
        vision, judge = f"{mf.VISION}.{prec}", f"{mf.JUDGE}.{prec}"
        floors = P.Floors(cfg.fp16_agreement, cfg.fp16_max_dp) if prec == "fp16" else P.Floors(cfg.int8_agreement, cfg.int8_max_dp)
        try:
            drv = P.OrtVerdictDriver(tmp / entries[vision].file, tmp / entries[judge].file, threads=cfg.threads,
                                     reference_semantics=prec == "int8-qdq")
        except Exception as e:  # noqa: BLE001 - ORT's own exception types; only FP16 may lack CPU kernels
            if prec != "fp16":
                raise
            out[prec] = P.failed_run(reference, floors, cfg.margin, cfg.min_decisive, "ONNX Runtime's CPU provider cannot run "
                                     f"the FP16 graphs here ({str(e).splitlines()[0][:200]}); the parity probe checks them "
                                     "on the GPU at load", status="unverified") | {"runs_here": False}
        else:
            out[prec] = P.compare(reference, P.exported_logits(drv, processor, items, cfg.batch_size), floors, cfg.margin,
                                  cfg.min_decisive)
            if prec == "fp16":
                out[prec]["provider"] = "CPUExecutionProvider (fp16 kernels of the CPU, not a GPU's)"
        out[prec]["graphs"] = [vision, judge]
        if prec.startswith("int8"):
            out[prec]["calibration"] = calibration
    return out


def _engine_parity(cfg: ExportConfig, reference, processor, items, tmp: Path, tensorrt: dict, progress) -> dict:
    """The TensorRT engines, run by the runtime's engine runner, against the reference."""

    progress("parity tensorrt", 0, 1)
    batch = max(1, min(cfg.batch_size, cfg.trt_max_rows // 2, cfg.trt_max_images // 2))
    engines = P.exported_logits(EngineVerdictDriver(tmp, tensorrt), processor, items, batch)
    figures = P.compare(reference, engines, P.Floors(cfg.int8_agreement, cfg.int8_max_dp), cfg.margin, cfg.min_decisive)
    figures["graphs"] = [tensorrt["engines"][r]["file"] for r in (mf.VISION, mf.JUDGE)]
    return figures


def _fuse(cfg: ExportConfig, tmp: Path, work: Path, entries: dict, model, progress) -> dict:
    """Transformer fusions of the fp32 graphs (``--fuse``, the default); returns the unfused files kept for TensorRT."""
    if not cfg.fuse:
        for entry in entries.values():
            entry.optimization = {"fused": {}, "reason": "--no-fuse: graphs as exported"}
        return {}

    return fuse_export(tmp, work, entries, model, progress)


def _convert_fp16(tmp: Path, entries: dict, progress) -> None:
    """``<graph>.fp16`` variants of every fp32 graph (``--fp16``)."""

    graphs = [k for k, e in entries.items() if e.precision == "fp32"]
    for i, key in enumerate(graphs):
        progress("FP16 graphs", i, len(graphs))
        settings = convert_fp16(tmp / entries[key].file, tmp / f"{key}.fp16.onnx")
        inputs, outputs = _io_spec(tmp / f"{key}.fp16.onnx")
        entries[f"{key}.fp16"] = mf.GraphEntry(f"{key}.fp16.onnx", inputs, outputs, "fp16", "onnxruntime.transformers.float16",
                                               key, settings, dict(entries[key].optimization))


def _quantize(cfg: ExportConfig, tmp: Path, entries: dict, processor, calib_items, model, progress, unfused: dict) -> dict:
    """INT8 variants of the graphs (``--int8`` and/or ``--trt``); returns what calibrated them."""
    if not (cfg.int8 or cfg.trt):
        return {}

    return quantize_export(cfg, tmp, entries, processor, calib_items, model, progress, unfused)


def _openvino(cfg: ExportConfig, reference, processor, calib_items, held_items, tmp: Path, entries: dict, progress,
              unfused: dict) -> dict:
    """OpenVINO IR of every graph (``--openvino``) and the parity of its fp32 and INT8 IR."""

    calibration = openvino_ir.export_openvino(cfg, tmp, entries, processor, calib_items, progress, unfused)
    progress("parity OpenVINO", 0, 1)
    figures = openvino_ir.parity(cfg, reference, processor, held_items, tmp, entries)
    figures["openvino-int8"]["calibration"] = calibration
    return figures


def _build_trt(cfg: ExportConfig, tmp: Path, entries: dict, spec, dims, pre, progress) -> dict:
    return build_export_engines(cfg, tmp, entries, spec, dims, pre, progress)


def _write_triton(tmp: Path, entries: dict, dims, opset: int, tensorrt: dict, progress) -> list[str]:
    progress("triton repository", 0, 1)
    return write_repository(tmp, entries, dims, opset, tensorrt.get("engines"))


def _versions(cfg: ExportConfig, exporters: dict) -> dict:
    return versions() | {"opset": cfg.opset, "exporters": exporters}


def _write_manifest_and_reports(cfg: ExportConfig, tmp: Path, manifest: mf.Manifest, parity_source: str) -> None:
    """The overall status, parity.md, provenance, then the manifest (last: it hashes every file written)."""

    for figures in manifest.parity.values():
        figures["pairs_source"] = parity_source
    manifest.status = P.overall_status(manifest.parity)
    (tmp / mf.PARITY_FILE).write_text(P.parity_markdown(manifest.parity, manifest.status, str(cfg.model)))
    write_provenance(tmp, "export", cfg.to_dict(), {"status": manifest.status, "parity_pairs": parity_source})
    mf.write_manifest(tmp, manifest)


def _finish(cfg: ExportConfig, manifest: mf.Manifest, exporters: dict, parity_source: str, triton_models) -> dict:
    """The summary, or ParityFailed once the failed export is in place."""
    summary = {"status": manifest.status, "parity": manifest.parity, "parity_pairs": parity_source,
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


