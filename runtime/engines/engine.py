"""The ``Engine`` protocol: what one backend tells the runtime, so that nothing else tests a backend's name.

An engine opens the export's graphs for a precision, says which precisions an export holds for it and why it
cannot run here (``missing``), gates each precision for ``backend=auto`` (``auto_gate``), and gives the decoder
explanations run on. ``Graph.run(feeds) -> {output name: numpy array}`` is the one call every engine's graphs
answer. ``engines.choice`` ranks the engines; each engine lives in a module of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.explain import CachedDecoder


class BackendError(RuntimeError):
    """A backend that cannot be used here, with what can."""


class Graph(Protocol):
    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class Engine:
    """A backend. Subclasses set the class attributes and override what differs from ONNX files run as they are."""

    name: str = ""
    help: str = ""
    on_gpu = False  # auto ranks the GPU engines first
    in_auto = True  # whether backend=auto may pick it at all
    precisions: tuple[str, ...] = ("fp32",)  # what it runs, in auto's order of preference on a tie
    auto_precisions: tuple[str, ...] = ("fp32",)  # what backend=auto may pick on it
    parity_keys: dict[str, str] = {"fp32": "fp32"}  # precision -> the manifest's parity entry of those graphs
    shift_keys: dict[str, str] = {}  # INT8 precision -> the manifest's shift-gate entry (default: its parity key)
    falls_back = True  # reduced-precision graphs that fail the probe can be swapped for fp32 ones
    own_graphs = False  # the export writes graphs for this engine alone (TensorRT engines, OpenVINO IR)

    # ------------------------------------------------------------ what the export holds, and whether it runs here

    def installed(self) -> str | None:
        """Why this engine cannot run on this machine (its package or device is missing), or None."""
        return None

    def lacks(self, manifest: mf.Manifest) -> str | None:
        """What the export lacks for this engine (its graph files), or None."""
        return None

    def missing(self, manifest: mf.Manifest | None) -> str | None:
        """Why this engine cannot run ``manifest``'s export here (without a manifest: on this machine at all), or None."""
        return (manifest is not None and self.lacks(manifest)) or self.installed()

    def holds(self, manifest: mf.Manifest, precision: str) -> bool:
        """Whether the export has this engine's judge graph for ``precision``."""
        return precision in self.precisions and self.variant_key(manifest, mf.JUDGE, precision) is not None

    def check_precision(self, export_dir: Path, manifest: mf.Manifest, precision: str) -> None:
        """A clear error for a precision asked for explicitly that this engine or export cannot run."""
        if precision not in self.precisions:
            raise BackendError(f"precision {precision} does not run on the {self.name} backend (it runs "
                               f"{', '.join(self.precisions)}); choose another precision or backend")
        if not self.holds(manifest, precision):
            raise mf.ManifestError(f"{export_dir}: the export has no {precision.upper()} graphs for the {self.name} backend; "
                                   f"re-export with `c4u export --{precision}` or use precision fp32")

    def auto_gate(self, manifest: mf.Manifest, precision: str) -> str | None:
        """Why ``backend=auto`` must not run ``precision`` here (None: it may): INT8 needs its parity passed and its
        shift-set check passed; FP16 needs a parity that did not fail (the load-time probe checks it on the GPU)."""
        if precision == "fp32":
            return None
        key = self.parity_keys[precision]
        status = manifest.parity.get(key, {}).get("status", "absent")
        if precision == "fp16":
            return f"the export's {key} parity failed" if status == "failed" else None
        if status != "passed":
            return f"the export's {key} parity is {status}"
        skey = self.shift_keys.get(precision, key)
        check = manifest.shift.get("variants", {}).get(skey)
        if check is None:
            return f"the export has no shift-set check of {skey} (re-export with `c4u export` to get one)"
        if check.get("status") != "passed":
            return f"{skey} failed the shift-set check ({check.get('reason', '')})"
        return None

    # ------------------------------------------------------------ graphs

    def variant_key(self, manifest: mf.Manifest, graph: str, precision: str) -> str | None:
        """The manifest key of ``graph`` at ``precision`` for this engine, or None where the export has none."""
        key = graph if precision == "fp32" else f"{graph}.{precision}"
        return key if key in manifest.graphs else None

    def graph_key(self, manifest: mf.Manifest, graph: str, precision: str) -> str:
        """The key to run: ``graph``'s ``precision`` variant, or its fp32 graph where that variant was not written."""
        return self.variant_key(manifest, graph, precision) or self.variant_key(manifest, graph, "fp32") or graph

    def graph_file(self, export_dir: Path, manifest: mf.Manifest, graph: str, key: str) -> Path:
        return Path(export_dir) / manifest.graphs[key].file

    def open(self, path: Path, entry: mf.GraphEntry, precision: str, config, manifest: mf.Manifest) -> Graph:
        """The graph at ``path`` (``entry`` its manifest entry) ready to run at ``precision`` with ``config``'s threads and device."""
        raise NotImplementedError

    def per_call(self, entry: mf.GraphEntry, batch_size: int) -> int:
        """Images or pairs per graph call: ``batch_size`` unless the graph's answers would depend on their batch mates."""
        return batch_size

    def describe(self, manifest: mf.Manifest) -> dict:
        """What ``Selector.describe()`` adds for this engine (versions, devices)."""
        return {}

    def decoder(self, prefill: Graph, step: Graph, num_layers: int):
        """A decoder for one explanation over the opened prefill and step graphs: the cache as tensors."""
        return CachedDecoder(prefill, step, num_layers)
