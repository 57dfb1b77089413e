"""``ExportRun``: the state one `c4u export` builds up and every step reads, as ``TrainingRun`` is for training.

The steps (graphs, fusions, INT8, OpenVINO IR, TensorRT, parity, the shift gate, timings) take the run and
add to it — graph entries, parity figures, calibration notes — instead of passing a dozen values by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from creative4u_small.export import parity as P
from creative4u_small.export.export_config import ExportConfig
from creative4u_small.runtime import manifest as mf


def _noop(stage: str, done: int, total: int) -> None:
    pass


@dataclass
class ExportRun:
    """One export: its config, the loaded model, the folder being written and what has been made so far."""

    cfg: ExportConfig
    model: object
    processor: object
    verdict_ids: list[int]
    spec: mf.PromptSpec
    pre: mf.Preprocessing
    dims: mf.ModelDims
    progress: object = _noop  # progress(stage, done, total)
    tmp: Path | None = None  # the folder being written; renamed to cfg.out once complete
    work: Path | None = None  # scratch: synthetic pairs, unfused graphs
    calib_items: list = field(default_factory=list)  # (a, b, query, title) that calibrate static INT8
    held_items: list = field(default_factory=list)  # held-out pairs every exported path is checked on
    shift_items: list = field(default_factory=list)  # distribution-shift pairs every INT8 variant is gated on
    parity_source: str = ""
    reference: np.ndarray | None = None  # the PyTorch scorer's logits on held_items
    entries: dict[str, mf.GraphEntry] = field(default_factory=dict)
    exporters: dict = field(default_factory=dict)
    unfused: dict[str, Path] = field(default_factory=dict)  # graph key -> its file before fusion (TensorRT, OpenVINO)
    parity: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    selectors: dict = field(default_factory=dict)  # (backend, precision) -> Selector on the final manifest (runtime_check.shared_selector)

    def file(self, key: str) -> Path:
        """The file of graph ``key`` in the folder being written."""
        return self.tmp / self.entries[key].file

    def unfused_file(self, key: str) -> Path:
        """``key``'s graph before ONNX Runtime's fusions (the fused file where nothing was fused)."""
        return self.unfused.get(key, self.file(key))

    def floors(self, precision: str) -> P.Floors:
        """The parity floors of ``precision`` (fp32, fp16, or any INT8 form)."""
        cfg = self.cfg
        if precision == "fp32":
            return P.Floors(cfg.fp32_agreement, cfg.fp32_max_dp)
        if precision == "fp16":
            return P.Floors(cfg.fp16_agreement, cfg.fp16_max_dp)
        return P.Floors(cfg.int8_agreement, cfg.int8_max_dp)

    def against_reference(self, logits: np.ndarray, precision: str) -> dict:
        """Parity figures and status of ``logits`` (held-out pairs, both orders) against the PyTorch reference."""
        return P.compare(self.reference, logits, self.floors(precision), self.cfg.margin, self.cfg.min_decisive)

    def held_logits(self, driver: P.VerdictDriver) -> np.ndarray:
        """``driver``'s verdict logits on the held-out pairs."""
        return P.exported_logits(driver, self.processor, self.held_items, self.cfg.batch_size)
