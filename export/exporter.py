"""`c4u export` as a plain function: graphs, INT8, OpenVINO IR, TensorRT, Triton, parity, manifest.

Everything is checked before any work (architecture, verdict tokens, calibration file, TensorRT,
output folder), then written into a temporary sibling folder that replaces ``out`` in one rename
once complete, so a crash never leaves a folder whose manifest claims missing files. An export
whose parity fails is still written — marked failed in the manifest and in ``parity.md`` — and
the call then raises ``ParityFailed``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from creative4u_small.contract.artifacts import (
    atomic_dir,
    check_fresh_output,
    versions,
    write_provenance,
)
from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.data.synth import synthesize
from creative4u_small.export import graphs as G
from creative4u_small.export import openvino_ir
from creative4u_small.export import parity as P
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.export.fp16 import convert_fp16
from creative4u_small.export.fuse import fuse_export
from creative4u_small.export.graphs import (
    _io_spec,
    _text_dims,  # the one place that derives head_dim
)
from creative4u_small.export.openvino_ir import check_openvino
from creative4u_small.export.prompt_spec import (
    build_preprocessing,
    build_prompt_spec,
    slot_budgets,
)
from creative4u_small.export.quantize import quantize_export
from creative4u_small.export.tensorrt_build import (
    EngineVerdictDriver,
    build_export_engines,
    check_tensorrt,
)
from creative4u_small.export.triton import write_repository
from creative4u_small.modeling import families
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime import probe
from creative4u_small.runtime.probe import ProbeFailed
from creative4u_small.runtime.selector import Selector
from creative4u_small.runtime.selector_config import SelectorConfig

DECODER_MAX_DLOGIT = 1e-3  # ceiling on fp32 decoder logits vs the PyTorch wrappers
# The probe's fp32 floors: another CPU's kernels (or TF32 on a GPU) may sum differently, never by more.
FP32_PROBE_FLOORS = {"max_dp_a": 1e-3, "max_rel_err": 1e-2}


class ParityFailed(RuntimeError):
    """The export was written but marked failed: its graphs do not reproduce the PyTorch verdicts."""


def _noop(stage: str, done: int, total: int) -> None:
    pass


# ---------------------------------------------------------------- checks before any work


def check_output(cfg: ExportConfig) -> None:
    out = Path(cfg.out)
    if (out / mf.MANIFEST_FILE).is_file() and not cfg.overwrite:
        try:
            old = json.loads((out / mf.MANIFEST_FILE).read_text()).get("format_version")
        except (OSError, json.JSONDecodeError):
            old = "unreadable"
        raise FileExistsError(f"{out} already holds an export (manifest format_version {old}); choose another --out or "
                              "pass --overwrite (the old export stays intact until the new one is complete)")
    check_fresh_output(out, cfg.overwrite, "export")


def check_model(path: Path) -> str:
    """The model's type, or a clear error for a missing folder or a family that cannot be a student."""

    model_type = families.model_type_of(path)
    families.family_for(model_type, families.STUDENT, where=str(path))
    return model_type


def model_hash(path: Path) -> dict:
    """sha256 over the model folder's weights, config and tokenizer files (sorted), plus per-file hashes."""
    files = sorted(p for p in Path(path).iterdir() if p.is_file() and (p.suffix in (".safetensors", ".json", ".jinja")))
    per_file = {p.name: mf.sha256_file(p) for p in files if not p.name.startswith("c4u_")}
    h = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in per_file.items()).encode())
    return {"sha256": h.hexdigest(), "files": per_file}


def load_calib(cfg: ExportConfig):
    """The --calib pairs (every bad line reported by ``load_pairs``), or None for synthetic pairs."""

    return load_pairs(cfg.calib, check_images="decode") if cfg.calib is not None else None


def parity_items(cfg: ExportConfig, pairs, image_size: int, workdir: Path):
    """(calibration items, held-out parity items, description) from ``pairs`` or fresh synthetic pairs."""

    n = cfg.calib_pairs
    if pairs is not None:
        source = f"{cfg.calib} ({len(pairs)} pairs)"
    else:
        path = synthesize(2 * n, workdir / "synth", seed=cfg.seed, image_size=max(32, min(image_size, 256)))
        pairs = load_pairs(path, check_images="decode")
        source = f"synthetic pairs (seed {cfg.seed})"
    items = [(p.image_a, p.image_b, p.query, p.title) for p in pairs]
    calib, held = items[:n], items[n: 2 * n]
    if not held:
        held = items[:n]
        source += "; too few pairs to hold out, so calibration and parity share them"
    return calib, held, source


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
            manifest.probe = _write_probe(cfg, tmp, manifest, processor, held_items)
            progress("parity runtime", 0, 1)
            parity["runtime-fp32"] = _runtime_check(tmp, manifest, reference, held_items, cfg)
            manifest.probe["export_machine"] = _probe_here(tmp, manifest, cfg, parity)
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
            _mark_failed(figures, f"decoder logits differ from PyTorch by {worst:.2e} (> {DECODER_MAX_DLOGIT:.0e})")
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


def _mark_failed(figures: dict, reason: str) -> None:
    """Fail a precision (an unverified one too: a numeric breach needs no decisive pairs to be real)."""
    earlier = figures.get("reason", "") if figures.get("status") == "failed" else ""
    figures["status"] = "failed"
    figures["reason"] = "; ".join(r for r in (earlier, reason) if r)


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


def _open_selector(folder: Path, manifest: mf.Manifest, cfg: ExportConfig, **settings):
    """The runtime's Selector on the manifest about to be written (round-tripped through its JSON form)."""

    as_written = mf.Manifest.from_dict(json.loads(json.dumps(manifest.to_dict())), str(folder / mf.MANIFEST_FILE))
    config = SelectorConfig(**{"backend": "cpu", **settings}, threads=cfg.threads, batch_size=cfg.batch_size, verify_hashes=False)
    return Selector.from_manifest(folder, as_written, config)


def _runtime_check(folder: Path, manifest: mf.Manifest, reference, items, cfg: ExportConfig) -> dict:
    """fp32 parity of ``runtime.Selector`` (what users embed) on the held-out pairs, against the PyTorch reference;
    a Selector that cannot run the export fails it, with the reference's real counts and no invented deltas."""

    floors = P.Floors(cfg.fp32_agreement, cfg.fp32_max_dp)
    try:
        selector = _open_selector(folder, manifest, cfg, precision="fp32")
        got = np.array([r.logits for r in selector.compare_many(items)], dtype=np.float64).reshape(-1, 2)
    except Exception as e:  # noqa: BLE001 - an export the runtime cannot run is a failed export, said plainly
        figures = P.failed_run(reference, floors, cfg.margin, cfg.min_decisive,
                               f"the runtime Selector cannot run this export: {type(e).__name__}: {e}")
    else:
        figures = P.compare(reference, got, floors, cfg.margin, cfg.min_decisive)
    figures["graphs"] = [mf.VISION, mf.JUDGE]
    figures["path"] = "runtime.Selector: numpy preprocessing + prompt pieces from the manifest"
    return figures


def _write_probe(cfg: ExportConfig, folder: Path, manifest: mf.Manifest, processor, items) -> dict:
    """``probe.npz``: the first ``probe_pairs`` held-out pairs as graph inputs, and the fp32 graphs' outputs.

    Pixels are stored in float16 (a 512 px pair in 3 MB) and the references computed from exactly
    those pixels, so the rounding is part of the input, not of the drift.
    """

    n = min(cfg.probe_pairs, len(items))
    batch = next(P.batches(processor, items[:n], n))
    data = {"pixel_values": batch.pixel_values.numpy().astype(np.float16), "image_index": batch.image_index.numpy(),
            "input_ids": batch.input_ids.numpy(), "attention_mask": batch.attention_mask.numpy()}
    fp32 = _open_selector(folder, manifest, cfg, precision="fp32", probe=False)
    refs = probe.references(fp32.run_graph, {**data, "pixel_values": data["pixel_values"].astype(np.float32)},
                            manifest.dims.num_layers, cfg.decoder)
    np.savez_compressed(folder / mf.PROBE_FILE, **data, **refs)
    return {"file": mf.PROBE_FILE, "pairs": n, "rows": int(data["input_ids"].shape[0]), "decoder": cfg.decoder,
            "floors": {"fp32": dict(FP32_PROBE_FLOORS), "int8": {"max_dp_a": cfg.int8_max_dp, "max_rel_err": cfg.int8_max_rel_err},
                       "fp16": {"max_dp_a": cfg.fp16_max_dp, "max_rel_err": cfg.fp16_max_rel_err},
                       # OpenVINO's bf16 hint (8 mantissa bits against fp16's 11) is held to the INT8 floors
                       "bf16": {"max_dp_a": cfg.int8_max_dp, "max_rel_err": cfg.int8_max_rel_err}}}


def _probe_here(folder: Path, manifest: mf.Manifest, cfg: ExportConfig, parity: dict) -> dict:
    """The INT8 and FP16 probes (and the OpenVINO IR's) replayed on the export machine (``manifest.machine``), as every
    user's Selector.load will; a breach fails that precision's parity. FP16 graphs this machine cannot run are left
    to the GPU's load."""

    runs = [(prec, "cpu", prec) for prec in ("int8", "fp16") if parity.get(prec, {}).get("runs_here", prec in parity)]
    runs += [(key, "openvino", key.split("-")[1]) for key in ("openvino-fp32", "openvino-int8") if key in parity]
    out = {}
    for key, backend, prec in runs:
        try:
            selector = _open_selector(folder, manifest, cfg, backend=backend, precision=prec)
            if cfg.decoder:
                selector.open_decoder()
        except ProbeFailed as e:
            _mark_failed(parity[key], f"parity probe: {e}")
            out[key] = {"status": "failed", "reason": str(e)}
            continue
        report = selector.describe()["probe"]
        if "fallback" in report:
            _mark_failed(parity[key], f"parity probe: {report['fallback']}")
        out[key] = report
    return out
