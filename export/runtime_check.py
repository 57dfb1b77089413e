"""The exporter runs the runtime on what it is about to publish: fp32 parity through ``Selector`` (what users embed),
the parity probe written with the runtime's own functions, and replayed here as every user's ``Selector.load`` will.

A check of the export, not a contract: the runtime never imports the exporter.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from creative4u_small.export import parity as P
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.export.export_run import ExportRun
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime import probe
from creative4u_small.runtime.probe import ProbeFailed
from creative4u_small.runtime.selector import Selector
from creative4u_small.runtime.selector_config import SelectorConfig

# The probe's fp32 floors: another CPU's kernels (or TF32 on a GPU) may sum differently, never by more.
FP32_PROBE_FLOORS = {"max_dp_a": 1e-3, "max_rel_err": 1e-2}


def open_selector(folder: Path, manifest: mf.Manifest, cfg: ExportConfig, **settings):
    """The runtime's Selector on the manifest about to be written (round-tripped through its JSON form)."""
    as_written = mf.Manifest.from_dict(json.loads(json.dumps(manifest.to_dict())), str(folder / mf.MANIFEST_FILE))
    config = SelectorConfig(**{"backend": "cpu", **settings}, threads=cfg.threads, batch_size=cfg.batch_size, verify_hashes=False)
    return Selector.from_manifest(folder, as_written, config)


def shared_selector(run: ExportRun, manifest: mf.Manifest, backend: str, precision: str) -> Selector:
    """A Selector of ``backend`` and ``precision`` on the manifest's graphs, without the probe, opened once and kept in
    ``run.selectors`` for the probe's references, the shift gate and the engine timing (which use the same paths)."""
    key = (backend, precision)
    if key not in run.selectors:
        run.selectors[key] = open_selector(run.tmp, manifest, run.cfg, backend=backend, precision=precision, probe=False)
    return run.selectors[key]


def runtime_check(run: ExportRun, manifest: mf.Manifest) -> dict:
    """fp32 parity of ``runtime.Selector`` (what users embed) on the held-out pairs, against the PyTorch reference;
    a Selector that cannot run the export fails it, with the reference's real counts and no invented deltas."""
    cfg = run.cfg
    try:
        selector = open_selector(run.tmp, manifest, cfg, precision="fp32")
        got = np.array([r.logits for r in selector.compare_many(run.held_items)], dtype=np.float64).reshape(-1, 2)
    except Exception as e:  # noqa: BLE001 - an export the runtime cannot run is a failed export, said plainly
        figures = P.failed_run(run.reference, run.floors("fp32"), cfg.margin, cfg.min_decisive,
                               f"the runtime Selector cannot run this export: {type(e).__name__}: {e}")
    else:
        figures = run.against_reference(got, "fp32")
    figures["graphs"] = [mf.VISION, mf.JUDGE]
    figures["path"] = "runtime.Selector: numpy preprocessing + prompt pieces from the manifest"
    return figures


def write_probe(run: ExportRun, manifest: mf.Manifest) -> dict:
    """``probe.npz``: the first ``probe_pairs`` held-out pairs and ``probe_shift_pairs`` pairs of the shift set as
    graph inputs, and the fp32 graphs' outputs.

    Pixels are stored in float16 (a 512 px pair in 3 MB) and the references computed from exactly
    those pixels, so the rounding is part of the input, not of the drift.
    """
    cfg, folder = run.cfg, run.tmp
    held, shift = run.held_items[: cfg.probe_pairs], run.shift_items[: cfg.probe_shift_pairs]
    n = len(held) + len(shift)
    batch = next(P.batches(run.processor, held + shift, n))
    data = {"pixel_values": batch.pixel_values.numpy().astype(np.float16), "image_index": batch.image_index.numpy(),
            "input_ids": batch.input_ids.numpy(), "attention_mask": batch.attention_mask.numpy()}
    fp32 = shared_selector(run, manifest, "cpu", "fp32")
    refs = probe.references(fp32.run_graph, {**data, "pixel_values": data["pixel_values"].astype(np.float32)},
                            manifest.dims.num_layers, cfg.decoder)
    np.savez_compressed(folder / mf.PROBE_FILE, **data, **refs)
    return {"file": mf.PROBE_FILE, "pairs": n, "shift_pairs": len(shift), "rows": int(data["input_ids"].shape[0]), "decoder": cfg.decoder,
            "floors": {"fp32": dict(FP32_PROBE_FLOORS), "int8": {"max_dp_a": cfg.int8_max_dp, "max_rel_err": cfg.int8_max_rel_err},
                       "fp16": {"max_dp_a": cfg.fp16_max_dp, "max_rel_err": cfg.fp16_max_rel_err},
                       # OpenVINO's bf16 hint (8 mantissa bits against fp16's 11) is held to the INT8 floors
                       "bf16": {"max_dp_a": cfg.int8_max_dp, "max_rel_err": cfg.int8_max_rel_err}}}


def probe_here(folder: Path, manifest: mf.Manifest, cfg: ExportConfig, parity: dict) -> dict:
    """The INT8 and FP16 probes (and the OpenVINO IR's) replayed on the export machine (``manifest.machine``), as every
    user's Selector.load will; a breach fails that precision's parity. FP16 graphs this machine cannot run are left
    to the GPU's load."""
    runs = [(prec, "cpu", prec) for prec in ("int8", "fp16") if parity.get(prec, {}).get("runs_here", prec in parity)]
    runs += [(key, "openvino", key.split("-")[1]) for key in ("openvino-fp32", "openvino-int8") if key in parity]
    out = {}
    for key, backend, prec in runs:
        try:
            selector = open_selector(folder, manifest, cfg, backend=backend, precision=prec)
            if cfg.decoder:
                selector.open_decoder()
        except ProbeFailed as e:
            P.mark_failed(parity[key], f"parity probe: {e}")
            out[key] = {"status": "failed", "reason": str(e)}
            continue
        report = selector.describe()["probe"]
        if "fallback" in report:
            P.mark_failed(parity[key], f"parity probe: {report['fallback']}")
        out[key] = report
    return out
