"""What an export starts from, checked before any work: the output folder, the model, its hash, the calibration pairs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from creative4u_small.contract.artifacts import check_fresh_output
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.data.synth import synthesize
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.modeling import families
from creative4u_small.runtime import manifest as mf


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
