"""`c4u export` as a plain function: graphs, INT8, TensorRT, Triton, parity, manifest.

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

from creative4u_small.cpu_info import cpu_info
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.runtime import manifest as mf

DECODER_MAX_DLOGIT = 1e-3  # ceiling on fp32 decoder logits vs the PyTorch wrappers
# The probe's fp32 floors: another CPU's kernels (or TF32 on a GPU) may sum differently, never by more.
FP32_PROBE_FLOORS = {"max_dp_a": 1e-3, "max_rel_err": 1e-2}


class ParityFailed(RuntimeError):
    """The export was written but marked failed: its graphs do not reproduce the PyTorch verdicts."""


def _noop(stage: str, done: int, total: int) -> None:
    pass


# ---------------------------------------------------------------- checks before any work


def check_output(cfg: ExportConfig) -> None:
    from creative4u_small.artifacts import check_fresh_output

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
    """The model's type, or a clear error for a missing folder or an unsupported architecture."""
    from creative4u_small.checkpoint import SUPPORTED_STUDENTS

    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{path}: no config.json; --model must be a Hugging Face model folder (c4u model init / c4u distill)")
    try:
        config = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg_file}: not valid JSON ({e.msg}); re-save the model") from None
    model_type = config.get("model_type", "unknown")
    if model_type not in SUPPORTED_STUDENTS:
        raise ValueError(f"{path}: model type {model_type!r} is not exportable; the exporter supports "
                         f"{', '.join(SUPPORTED_STUDENTS)} (SmolVLM) students")
    return model_type


def model_hash(path: Path) -> dict:
    """sha256 over the model folder's weights, config and tokenizer files (sorted), plus per-file hashes."""
    files = sorted(p for p in Path(path).iterdir() if p.is_file() and (p.suffix in (".safetensors", ".json", ".jinja")))
    per_file = {p.name: mf.sha256_file(p) for p in files if not p.name.startswith("c4u_")}
    h = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in per_file.items()).encode())
    return {"sha256": h.hexdigest(), "files": per_file}


def load_calib(cfg: ExportConfig):
    """The --calib pairs (every bad line reported by ``load_pairs``), or None for synthetic pairs."""
    from creative4u_small.pairs import load_pairs

    return load_pairs(cfg.calib, check_images="decode") if cfg.calib is not None else None


def parity_items(cfg: ExportConfig, pairs, image_size: int, workdir: Path):
    """(calibration items, held-out parity items, description) from ``pairs`` or fresh synthetic pairs."""
    from creative4u_small.pairs import load_pairs

    n = cfg.calib_pairs
    if pairs is not None:
        source = f"{cfg.calib} ({len(pairs)} pairs)"
    else:
        from creative4u_small.synth import synthesize

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
    import torch

    from creative4u_small.artifacts import atomic_dir, versions, write_provenance
    from creative4u_small.checkpoint import load_model
    from creative4u_small.export import graphs as G
    from creative4u_small.export import parity as P
    from creative4u_small.export.prompt_spec import build_preprocessing, build_prompt_spec

    progress = progress or _noop
    check_output(cfg)
    model_type = check_model(cfg.model)
    if cfg.trt:
        from creative4u_small.export.tensorrt_build import check_tensorrt

        check_tensorrt()
    calib_pairs = load_calib(cfg)
    model, processor, verdict_ids = load_model(cfg.model)
    spec = build_prompt_spec(processor, eos_token_ids=_eos_ids(model))
    pre = build_preprocessing(processor)
    dims = _dims(model, processor)
    torch.manual_seed(cfg.seed)

    with tempfile.TemporaryDirectory(prefix="c4u-export-") as work:
        calib_items, held_items, parity_source = parity_items(cfg, calib_pairs, pre.image_size, Path(work))
        progress("PyTorch reference", 0, len(held_items))
        reference = P.reference_logits(model, processor, verdict_ids, held_items, cfg.batch_size,
                                       lambda d: progress("PyTorch reference", min(d, len(held_items)), len(held_items)))
        model.set_attn_implementation("eager")
        summary: dict = {}
        with atomic_dir(Path(cfg.out), overwrite=cfg.overwrite) as tmp:
            entries, exporters = {}, {}
            plan = [(mf.VISION, lambda p: G.export_vision(model, pre.image_size, p, opset=cfg.opset, prefer_dynamo=cfg.prefer_dynamo)),
                    (mf.JUDGE, lambda p: G.export_judge(model, verdict_ids, dims.image_seq_len, p, opset=cfg.opset,
                                                        prefer_dynamo=cfg.prefer_dynamo))]
            if cfg.decoder:
                plan += [(mf.DECODER_PREFILL, lambda p: G.export_prefill(model, dims.image_seq_len, p, opset=cfg.opset,
                                                                         prefer_dynamo=cfg.prefer_dynamo)),
                         (mf.DECODER_STEP, lambda p: G.export_step(model, p, opset=cfg.opset, prefer_dynamo=cfg.prefer_dynamo))]
            for i, (key, fn) in enumerate(plan):
                progress(f"export {key}", i, len(plan))
                g = fn(tmp / f"{key}.onnx")
                g.entry.exporter = g.exporter
                entries[key] = g.entry
                exporters[key] = {"exporter": g.exporter, "dynamo_error": g.dynamo_error}
            progress("export", len(plan), len(plan))
            _save_tokenizer(cfg.model, processor, tmp / mf.TOKENIZER_FILE)

            parity = {}
            progress("parity fp32", 0, 1)
            drv = P.OrtVerdictDriver(tmp / entries[mf.VISION].file, tmp / entries[mf.JUDGE].file, threads=cfg.threads)
            fp32 = P.exported_logits(drv, processor, held_items, cfg.batch_size)
            parity["fp32"] = P.compare(reference, fp32, P.Floors(cfg.fp32_agreement, cfg.fp32_max_dp), cfg.margin, cfg.min_decisive)
            parity["fp32"]["graphs"] = [mf.VISION, mf.JUDGE]
            if cfg.decoder:
                parity["fp32"]["decoder"] = _decoder_check(model, processor, held_items[:2], tmp, entries, cfg.threads)
                worst = parity["fp32"]["decoder"]["max_abs_dlogit"]
                if worst > DECODER_MAX_DLOGIT:
                    _mark_failed(parity["fp32"], f"decoder logits differ from PyTorch by {worst:.2e} (> {DECODER_MAX_DLOGIT:.0e})")

            if cfg.int8 or cfg.trt:
                calibration = _quantize(cfg, tmp, entries, processor, calib_items, drv, model, progress)
                int8_floor = P.Floors(cfg.int8_agreement, cfg.int8_max_dp)
                variants = [("int8", mf.VISION + ".int8", mf.JUDGE + ".int8")] if cfg.int8 else []
                if cfg.trt:
                    variants.append(("int8-qdq", mf.VISION + ".int8-qdq", mf.JUDGE + ".int8-qdq"))
                for prec, v, j in variants:
                    progress(f"parity {prec}", 0, 1)
                    d8 = P.OrtVerdictDriver(tmp / entries[v].file, tmp / entries[j].file, threads=cfg.threads,
                                            reference_semantics=prec == "int8-qdq")
                    parity[prec] = P.compare(reference, P.exported_logits(d8, processor, held_items, cfg.batch_size),
                                             int8_floor, cfg.margin, cfg.min_decisive)
                    parity[prec]["graphs"] = [v, j]
                    parity[prec]["calibration"] = calibration

            tensorrt = {}
            if cfg.trt:
                from creative4u_small.export.tensorrt_build import EngineVerdictDriver

                tensorrt = _build_trt(cfg, tmp, entries, spec, dims, pre, progress)
                progress("parity tensorrt", 0, 1)
                batch = max(1, min(cfg.batch_size, cfg.trt_max_rows // 2, cfg.trt_max_images // 2))
                engines = P.exported_logits(EngineVerdictDriver(tmp, tensorrt), processor, held_items, batch)
                parity["tensorrt-int8"] = P.compare(reference, engines, P.Floors(cfg.int8_agreement, cfg.int8_max_dp), cfg.margin,
                                                    cfg.min_decisive)
                parity["tensorrt-int8"]["graphs"] = [tensorrt["engines"][r]["file"] for r in (mf.VISION, mf.JUDGE)]
            if cfg.triton:
                from creative4u_small.export.triton import write_repository

                progress("triton repository", 0, 1)
                summary["triton_models"] = write_repository(tmp, entries, dims, cfg.opset, tensorrt.get("engines"))

            vers = versions() | {"opset": cfg.opset, "exporters": exporters}
            manifest = mf.Manifest(
                format_version=mf.FORMAT_VERSION,
                source_model={"path": str(Path(cfg.model).resolve()), "model_type": model_type, **model_hash(cfg.model)},
                versions=vers, graphs=entries, preprocessing=pre, prompt=spec, dims=dims,
                parity=parity, status="unverified", tensorrt=tensorrt, machine=cpu_info(),
            )

            def finish() -> str:
                for figures in parity.values():
                    figures["pairs_source"] = parity_source
                manifest.status = P.overall_status(parity)
                (tmp / mf.PARITY_FILE).write_text(P.parity_markdown(parity, manifest.status, str(cfg.model)))
                write_provenance(tmp, "export", cfg.to_dict(), {"status": manifest.status, "parity_pairs": parity_source})
                mf.write_manifest(tmp, manifest)
                return manifest.status

            finish()
            progress("parity probe", 0, 1)
            manifest.probe = _write_probe(cfg, tmp, processor, held_items, manifest.dims.num_layers)
            finish()
            # end to end through the torch-free runtime: its numpy preprocessing and the manifest's prompt pieces
            progress("parity runtime", 0, 1)
            parity["runtime-fp32"] = _runtime_check(tmp, reference, held_items, cfg)
            if cfg.int8:
                manifest.probe["export_machine"] = _probe_here(tmp, cfg, parity["int8"])
            status = finish()
            summary.update(status=status, parity=parity, parity_pairs=parity_source, graphs=sorted(entries),
                           exporters={k: v["exporter"] for k, v in exporters.items()})
            progress("done", 1, 1)
    summary["out"] = str(cfg.out)
    summary["sizes_bytes"] = {e.file: (Path(cfg.out) / e.file).stat().st_size for e in entries.values()}
    if status == "failed":
        reasons = "; ".join(f"{k}: {v['reason']}" for k, v in parity.items() if v["status"] == "failed")
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
    from creative4u_small.export.graphs import _text_dims  # the one place that derives head_dim

    layers, kv_heads, head_dim, hidden = _text_dims(model)
    return mf.ModelDims(image_seq_len=int(processor.image_seq_len), hidden_size=int(hidden), num_layers=int(layers),
                        num_kv_heads=int(kv_heads), head_dim=int(head_dim), vocab_size=int(model.config.text_config.vocab_size))


def _save_tokenizer(model_dir: Path, processor, dst: Path) -> None:
    src = Path(model_dir) / mf.TOKENIZER_FILE
    if src.is_file():
        shutil.copyfile(src, dst)
    else:
        processor.tokenizer.backend_tokenizer.save(str(dst))


def _runtime_check(folder: Path, reference, items, cfg: ExportConfig) -> dict:
    """fp32 parity of ``runtime.Selector`` (what users embed) on the held-out pairs, against the PyTorch reference."""
    from creative4u_small.export import parity as P
    from creative4u_small.runtime.selector import Selector

    floors = P.Floors(cfg.fp32_agreement, cfg.fp32_max_dp)
    try:
        selector = Selector.load(folder, backend="cpu", precision="fp32", threads=cfg.threads, batch_size=cfg.batch_size)
        got = np.array([r.logits for r in selector.compare_many(items)], dtype=np.float64).reshape(-1, 2)
    except Exception as e:  # noqa: BLE001 - an export the runtime cannot run is a failed export, said plainly
        figures = P.compare(reference, reference, floors, cfg.margin, cfg.min_decisive)
        figures.update(status="failed", reason=f"the runtime Selector cannot run this export: {type(e).__name__}: {e}")
    else:
        figures = P.compare(reference, got, floors, cfg.margin, cfg.min_decisive)
    figures["graphs"] = [mf.VISION, mf.JUDGE]
    figures["path"] = "runtime.Selector: numpy preprocessing + prompt pieces from the manifest"
    return figures


def _write_probe(cfg: ExportConfig, folder: Path, processor, items, num_layers: int) -> dict:
    """``probe.npz``: the first ``probe_pairs`` held-out pairs as graph inputs, and the fp32 graphs' outputs.

    Pixels are stored in float16 (a 512 px pair in 3 MB) and the references computed from exactly
    those pixels, so the rounding is part of the input, not of the drift.
    """
    from creative4u_small.export import parity as P
    from creative4u_small.runtime import probe
    from creative4u_small.runtime.selector import Selector

    n = min(cfg.probe_pairs, len(items))
    batch = next(P.batches(processor, items[:n], n))
    data = {"pixel_values": batch.pixel_values.numpy().astype(np.float16), "image_index": batch.image_index.numpy(),
            "input_ids": batch.input_ids.numpy(), "attention_mask": batch.attention_mask.numpy()}
    fp32 = Selector.load(folder, backend="cpu", precision="fp32", probe=False, threads=cfg.threads, verify_hashes=False)
    refs = probe.references(fp32.run_graph, {**data, "pixel_values": data["pixel_values"].astype(np.float32)}, num_layers,
                            cfg.decoder)
    np.savez_compressed(folder / mf.PROBE_FILE, **data, **refs)
    return {"file": mf.PROBE_FILE, "pairs": n, "rows": int(data["input_ids"].shape[0]), "decoder": cfg.decoder,
            "floors": {"fp32": dict(FP32_PROBE_FLOORS), "int8": {"max_dp_a": cfg.int8_max_dp, "max_rel_err": cfg.int8_max_rel_err}}}


def _probe_here(folder: Path, cfg: ExportConfig, int8_parity: dict) -> dict:
    """The INT8 probe replayed on the export machine (``manifest.machine``), as every user's Selector.load will;
    a breach fails INT8 parity."""
    from creative4u_small.runtime.selector import Selector

    selector = Selector.load(folder, backend="cpu", precision="int8", threads=cfg.threads, verify_hashes=False)
    if cfg.decoder:
        selector.open_decoder()
    report = selector.describe()["probe"]
    if "fallback" in report:
        _mark_failed(int8_parity, f"parity probe: {report['fallback']}")
    return {"int8": report}


def _decoder_check(model, processor, items, folder: Path, entries: dict, threads: int = 0) -> dict:
    """ORT prefill + one greedy step against the PyTorch wrappers on a small padded batch."""
    import onnxruntime as ort
    import torch

    from creative4u_small.export import parity as P
    from creative4u_small.export.wrappers import PrefillGraph, StepGraph, VisionGraph

    batch = next(P.batches(processor, items, len(items)))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    prefill = ort.InferenceSession(str(folder / entries[mf.DECODER_PREFILL].file), opts, providers=["CPUExecutionProvider"])
    step = ort.InferenceSession(str(folder / entries[mf.DECODER_STEP].file), opts, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        feats = VisionGraph(model, batch.pixel_values.shape[-1])(batch.pixel_values)
        rows = feats[batch.image_index].reshape(batch.input_ids.shape[0], -1, feats.shape[-1])
        ref_logits, *ref_present = PrefillGraph(model)(batch.input_ids, batch.attention_mask, rows)
        nxt = ref_logits.argmax(-1, keepdim=True)
        mask2 = torch.cat([batch.attention_mask, torch.ones_like(nxt)], 1)
        ref_step, *_ = StepGraph(model)(nxt, mask2, *ref_present)
    out = prefill.run(None, {"input_ids": batch.input_ids.numpy(), "attention_mask": batch.attention_mask.numpy(),
                             "image_embeds": rows.numpy()})
    past_names = [i.name for i in step.get_inputs()][2:]
    out2 = step.run(None, {"input_ids": nxt.numpy(), "attention_mask": mask2.numpy(), **dict(zip(past_names, out[1:]))})
    d1 = float(np.abs(out[0] - ref_logits.numpy()).max())
    d2 = float(np.abs(out2[0] - ref_step.numpy()).max())
    return {"rows": int(batch.input_ids.shape[0]), "prefill_max_abs_dlogit": d1, "step_max_abs_dlogit": d2,
            "max_abs_dlogit": max(d1, d2)}


def _quantize(cfg, tmp: Path, entries: dict, processor, calib_items, drv, model, progress) -> dict:
    """INT8 variants into ``tmp``/``entries``; returns what calibrated them.

    ``--int8``: dynamic INT8 for every graph, vision included — on the CPU it runs integer GEMMs,
    where a static QDQ vision graph ran nearly as slow as fp32. ``--trt``: static QDQ vision and
    judge graphs calibrated on real pairs, the explicit-quantization form TensorRT builds from.
    """
    from creative4u_small.export import quantize as Q
    from creative4u_small.export.graphs import _io_spec

    def add(key: str, source: str, precision: str, settings: dict) -> None:
        inputs, outputs = _io_spec(tmp / f"{key}.onnx")
        entries[key] = mf.GraphEntry(f"{key}.onnx", inputs, outputs, precision, "onnxruntime.quantization", source, settings)

    calibration: dict = {"int8": "dynamic (no calibration)"} if cfg.int8 else {}
    if cfg.int8:
        graphs = [mf.VISION, mf.JUDGE] + ([mf.DECODER_PREFILL, mf.DECODER_STEP] if cfg.decoder else [])
        for i, key in enumerate(graphs):
            progress("INT8 graphs (dynamic)", i, len(graphs))
            settings = Q.quantize_dynamic_int8(tmp / entries[key].file, tmp / f"{key}.int8.onnx", cfg.int8_min_weights)
            add(key + ".int8", key, "int8", settings)
    if not cfg.trt:
        return calibration
    from creative4u_small.export import parity as P

    batches = list(P.batches(processor, calib_items, cfg.batch_size))
    vc = model.config.vision_config
    patches = (vc.image_size // vc.patch_size) ** 2
    n_images = sum(len(b.pixel_values) for b in batches)
    keep = Q.calibration_budget(Q.vision_bytes_per_image(vc.num_hidden_layers, patches, vc.hidden_size, vc.intermediate_size),
                                cfg.calib_memory_mb, n_images)
    vision_feeds = Q.split_feeds([{mf.VISION_INPUTS[0]: b.pixel_values.numpy()} for b in batches], 2)[: (keep + 1) // 2]
    calibration.update(vision_images=sum(len(f[mf.VISION_INPUTS[0]]) for f in vision_feeds), vision_images_available=n_images)
    progress("INT8 vision (static QDQ for TensorRT)", 0, 1)
    Q.quantize_static_qdq(tmp / entries[mf.VISION].file, tmp / f"{mf.VISION}.int8-qdq.onnx", vision_feeds)
    add(mf.VISION + ".int8-qdq", mf.VISION, "int8-qdq", Q.QDQ_SETTINGS)

    progress("INT8 judge (static QDQ for TensorRT)", 0, 1)
    tc = model.config.text_config
    feeds, rows = [], 0
    for b in batches:
        emb = drv.image_embeds(b.pixel_values.numpy())
        idx = b.image_index.numpy()
        feeds.append({mf.JUDGE_INPUTS[0]: b.input_ids.numpy(), mf.JUDGE_INPUTS[1]: b.attention_mask.numpy(),
                      mf.JUDGE_INPUTS[2]: emb[idx].reshape(idx.shape[0], -1, emb.shape[-1])})
        rows += len(idx)
    per_row = Q.vision_bytes_per_image(tc.num_hidden_layers, feeds[0][mf.JUDGE_INPUTS[0]].shape[1], tc.hidden_size,
                                       tc.intermediate_size)
    keep = Q.calibration_budget(per_row, cfg.calib_memory_mb, rows)
    judge_feeds = Q.split_feeds(feeds, 2)[: (keep + 1) // 2]
    calibration["judge_rows"] = sum(len(f[mf.JUDGE_INPUTS[0]]) for f in judge_feeds)
    Q.quantize_static_qdq(tmp / entries[mf.JUDGE].file, tmp / f"{mf.JUDGE}.int8-qdq.onnx", judge_feeds)
    add(mf.JUDGE + ".int8-qdq", mf.JUDGE, "int8-qdq", Q.QDQ_SETTINGS)
    return calibration


def fixed_prompt_len(spec: mf.PromptSpec) -> int:
    """Tokens of the judge prompt with both slots empty (the shortest prompt)."""
    return sum(len(p["ids"]) for p in spec.pieces if "ids" in p) + 2 * len(spec.image_block_ids)


def trt_profiles(cfg: ExportConfig, spec: mf.PromptSpec, dims: mf.ModelDims, image_size: int) -> dict:
    from creative4u_small.export import tensorrt_build as T

    lo = fixed_prompt_len(spec)
    hi = cfg.trt_max_seq or lo + 128
    return {
        mf.VISION: T.vision_profile(image_size, cfg.trt_max_images),
        mf.JUDGE: T.judge_profile(lo, hi, dims.image_seq_len, dims.hidden_size, cfg.trt_max_rows),
    }


def _build_trt(cfg, tmp: Path, entries: dict, spec, dims, pre, progress) -> dict:
    from creative4u_small.export import tensorrt_build as T

    profiles = trt_profiles(cfg, spec, dims, pre.image_size)
    sources = {mf.VISION: (mf.VISION + ".int8-qdq", tmp / entries[mf.VISION + ".int8-qdq"].file),
               mf.JUDGE: (mf.JUDGE + ".int8-qdq", tmp / entries[mf.JUDGE + ".int8-qdq"].file)}
    progress("TensorRT engines", 0, len(sources))
    section = T.build_engines(tmp, sources, profiles, cfg.trt_workspace_mb)
    section["onnxruntime_ep"] = T.ort_trt_provider_options({sources[r][0]: p for r, p in profiles.items()},
                                                           workspace_mb=cfg.trt_workspace_mb)
    return section
