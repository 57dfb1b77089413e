"""Which engine and precision a Selector runs, and why: accuracy first, then speed.

``auto`` considers every engine that can run the export here and every precision it may pick. A precision
passes when its gates passed (INT8: the export's parity and its shift-set check; FP16: a parity that did not
fail; fp32 always). Of what passes, GPU engines come first, then the CPU paths by the compare time the exporter
measured for each (``manifest.timing``), then ``engines.FIXED_ORDER`` where no time was measured. Every engine or precision passed over is listed with its reason.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from creative4u_small.runtime import engines
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines import BackendError, Engine
from creative4u_small.runtime.selector_config import SelectorConfig

log = logging.getLogger(__name__)


@dataclass
class Choice:
    engine: Engine
    precision: str
    precision_reason: str
    backend_reason: str
    candidates: list[dict] = field(default_factory=list)  # what auto weighed: engine, precision, compare_ms
    passed_over: list[dict] = field(default_factory=list)  # engine (+ precision) and why it was not taken

    def to_dict(self) -> dict:
        return {"backend": self.engine.name, "precision": self.precision, "candidates": self.candidates,
                "passed_over": self.passed_over}


def choose(export_dir: Path, manifest: mf.Manifest, config: SelectorConfig) -> Choice:
    """The engine and precision for ``config`` on this export, or a one-line error naming what is available."""
    wanted = [engines.engine(config.backend)] if config.backend != "auto" else [e for e in engines.ENGINES if e.in_auto]
    usable, passed_over = [], []
    for e in wanted:
        why = e.missing(manifest)
        if why is None:
            usable.append(e)
        elif config.backend != "auto":
            raise BackendError(f"backend {e.name!r} ({e.help}) is not available here: {why}; "
                               f"available: {', '.join(engines.available(manifest)) or 'none'}")
        else:
            passed_over.append({"backend": e.name, "reason": why})
            if e.own_graphs and not e.lacks(manifest):  # the export holds graphs for it alone, unusable here
                log.warning("the export holds %s graphs but %s; choosing among: %s", e.name, why,
                            ", ".join(engines.available(manifest)) or "none")
    if not usable:
        raise BackendError("no backend is available; install onnxruntime (CPU) or onnxruntime-gpu: pip install 'creative4u-small[cpu]'")
    if config.precision != "auto":
        return _explicit(export_dir, manifest, config, usable, passed_over)
    candidates = []
    for e in usable:
        for precision in e.auto_precisions:
            if not e.holds(manifest, precision):
                continue
            why = e.auto_gate(manifest, precision)
            if why is None:
                candidates.append((e, precision))
            else:
                passed_over.append({"backend": e.name, "precision": precision, "reason": why})
    ranked = sorted(candidates, key=lambda c: _rank(manifest, *c))
    if not ranked:
        raise mf.ManifestError(f"{export_dir}: no graphs the {' or '.join(e.name for e in usable)} backend can run; re-export with `c4u export`")
    chosen, precision = ranked[0]
    weighed = [{"backend": e.name, "precision": p, "compare_ms": _ms(manifest, e, p)} for e, p in ranked]
    return Choice(chosen, precision, _precision_reason(manifest, chosen, precision, passed_over),
                  _backend_reason(config, manifest, chosen, precision, len(ranked)), weighed, passed_over)


def _explicit(export_dir: Path, manifest: mf.Manifest, config: SelectorConfig, usable: list[Engine], passed_over: list) -> Choice:
    """A precision asked for: the usable engines that hold it, those whose gate passed first, then as auto ranks them
    (each engine's own error where none holds it)."""
    precision, held, errors = config.precision, [], []
    for e in usable:
        try:
            e.check_precision(export_dir, manifest, precision)
            held.append(e)
        except (BackendError, mf.ManifestError) as err:
            errors.append(err)
    if not held:
        raise errors[0]
    chosen = min(held, key=lambda e: (e.auto_gate(manifest, precision) is not None, *_rank(manifest, e, precision)))
    gate = chosen.auto_gate(manifest, precision)
    reason = f"precision {precision} asked for" + (f"; note: {gate}" if gate else "")
    backend_reason = (f"backend {chosen.name} asked for" if config.backend != "auto"
                      else f"auto: the best available backend that runs {precision} ({chosen.name})")
    return Choice(chosen, precision, reason, backend_reason, [], passed_over)


def _ms(manifest: mf.Manifest, e: Engine, precision: str) -> float | None:
    """The compare time the exporter measured for this engine's graphs of ``precision`` (CPU paths only)."""
    return None if e.on_gpu else manifest.timing.get("compare_ms", {}).get(e.parity_keys.get(precision, ""))


def _rank(manifest: mf.Manifest, e: Engine, precision: str) -> tuple:
    """GPU engines first; then the measured compare time; then ``engines.FIXED_ORDER`` (paths it omits last)."""
    ms, order = _ms(manifest, e, precision), engines.FIXED_ORDER
    fixed = order.index((e.name, precision)) if (e.name, precision) in order else len(order)
    return (0 if e.on_gpu else 1, math.inf if ms is None else ms, fixed)


def _precision_reason(manifest: mf.Manifest, e: Engine, precision: str, passed_over: list) -> str:
    if precision == "fp32":
        others = [p["reason"] for p in passed_over if p.get("backend") == e.name and "precision" in p]
        return "auto: fp32" + (f" ({'; '.join(others)})" if others else "")
    gate = f"the export's {e.parity_keys[precision]} parity passed"
    if precision == "int8":
        gate += f" and its shift-set check passed ({e.shift_keys.get(precision, e.parity_keys[precision])})"
    return f"auto: {precision.upper()} ({gate}; probed on this machine at load)"


def _backend_reason(config: SelectorConfig, manifest: mf.Manifest, e: Engine, precision: str, weighed: int) -> str:
    if config.backend != "auto":
        return f"backend {e.name} asked for"
    ms = _ms(manifest, e, precision)
    if e.on_gpu:
        return f"auto: {e.name}, the first GPU engine available"
    if ms is not None:
        return (f"auto: {e.name} {precision}, the fastest of {weighed} CPU path(s) that passed their gates "
                f"({ms:g} ms per compare at export, {manifest.timing.get('machine', {}).get('model', 'the export machine')})")
    return f"auto: {e.name} {precision}, the first available in the fixed order (the export has no timing)"
