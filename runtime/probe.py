"""The parity probe: replay a few stored inputs through the graphs on this machine and backend.

An export is built on one machine and run on others, and INT8 kernels differ between CPUs (see
``creative4u_small.contract.cpu_info``). Every export stores ``probe.npz``: held-out inputs of every graph
and the fp32 graphs' outputs on the export machine. ``Selector.load`` replays them through the
graphs it is about to use and compares with the export's floors before it answers anything.

The same functions compute the references at export time, so reference and replay cannot drift
apart. Torch-free.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from creative4u_small.contract.cpu_info import cpu_info
from creative4u_small.contract.verdict_prob import p_a
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.explain import CachedDecoder

# p_a, not the verdict logits, is gated: a near-tie's two logits are small, so their relative error says little.
VERDICT_GATES = (("max_dp_a", "max_dp_a"), ("vision_rel_err", "max_rel_err"), ("prefix_max_dp_a", "max_dp_a"))
DECODER_GATES = (("prefill_rel_err", "max_rel_err"), ("step_rel_err", "max_rel_err"))


class ProbeFailed(RuntimeError):
    """The graphs of one precision drift past the export's floors on this machine and backend."""


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """‖got − ref‖ / ‖ref‖ over the whole tensor."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    return float(np.linalg.norm(got - ref) / max(float(np.linalg.norm(ref)), 1e-12))


def logits_rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """``rel_err`` of logits with each row's mean removed: a shift of a whole row changes no probability."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    return rel_err(got - got.mean(-1, keepdims=True), ref - ref.mean(-1, keepdims=True))


def load(export_dir: Path, manifest: mf.Manifest) -> dict[str, np.ndarray]:
    """The probe arrays (pixels back in float32), or a clear error for an export without one."""
    if not manifest.probe.get("file"):
        raise mf.ManifestError(f"{export_dir}: the export has no parity probe; re-export with `c4u export`")
    with np.load(Path(export_dir) / manifest.probe["file"]) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["pixel_values"] = arrays["pixel_values"].astype(np.float32)
    return arrays


def _rows(embeds: np.ndarray, image_index: np.ndarray) -> np.ndarray:
    return embeds[image_index].reshape(image_index.shape[0], -1, embeds.shape[-1])


def _judge_feeds(data: dict, embeds: np.ndarray) -> dict:
    return {"input_ids": data["input_ids"], "attention_mask": data["attention_mask"],
            "image_embeds": _rows(embeds, data["image_index"])}


class _Bound:
    """``graph`` of a ``run(graph, feeds)`` function, as a graph object (``run(feeds)``)."""

    def __init__(self, run, graph: str):
        self.run = lambda feeds: run(graph, feeds)


def _decode(decoder, data: dict, embeds: np.ndarray, step_ids: np.ndarray | None = None):
    """Prefill over the probe rows, then one step with ``step_ids`` (the prefill's greedy token when None), through
    ``decoder`` (``prefill(feeds)``, ``step(ids, mask)``: the engine's explanation decoder)."""
    prefill = decoder.prefill(_judge_feeds(data, embeds))
    if step_ids is None:
        step_ids = prefill.argmax(-1)[:, None].astype(np.int64)
    mask = np.concatenate([data["attention_mask"], np.ones_like(step_ids)], 1)
    return prefill, step_ids, decoder.step(step_ids, mask)


def references(run, data: dict, num_layers: int, decoder: bool) -> dict[str, np.ndarray]:
    """The fp32 outputs the probe stores beside its inputs (``run(graph, feeds) -> outputs``)."""
    embeds = run(mf.VISION, {"pixel_values": data["pixel_values"]})["image_embeds"]
    refs = {"image_embeds": embeds, "verdict_logits": run(mf.JUDGE, _judge_feeds(data, embeds))["verdict_logits"]}
    if decoder:
        plain = CachedDecoder(_Bound(run, mf.DECODER_PREFILL), _Bound(run, mf.DECODER_STEP), num_layers)
        refs["prefill_logits"], refs["step_input_ids"], refs["step_logits"] = _decode(plain, data, embeds)
    return refs


def verdict_figures(run, data: dict, prefix=None) -> dict:
    """Vision, then the judge on what vision gave: the path every compare takes, one call each; with ``prefix`` (a
    ``PrefixJudge``) also the prefix-reuse path on the same rows."""
    embeds = run(mf.VISION, {"pixel_values": data["pixel_values"]})["image_embeds"]
    logits = run(mf.JUDGE, _judge_feeds(data, embeds))["verdict_logits"]
    ref, got = p_a(data["verdict_logits"]), p_a(logits)
    figures = {
        "pairs": int(ref.shape[0]),
        "vision_rel_err": rel_err(embeds, data["image_embeds"]),
        "max_dp_a": float(np.abs(got - ref).max()),
    }
    if prefix is not None:
        ids, mask, index = data["input_ids"], data["attention_mask"], data["image_index"]
        items = [(ids[r][mask[r] > 0].tolist(), embeds[index[r, 0]], embeds[index[r, 1]]) for r in range(0, len(ids), 2)]
        figures["prefix_max_dp_a"] = float(np.abs(p_a(prefix.logits(items)) - ref).max())
    return figures


def decoder_figures(decoder, data: dict) -> dict:
    """Prefill and one cached step through ``decoder`` on the reference embeddings and the reference's greedy token."""
    prefill, _, step = _decode(decoder, data, data["image_embeds"], data["step_input_ids"])
    return {
        "prefill_rel_err": logits_rel_err(prefill, data["prefill_logits"]),
        "step_rel_err": logits_rel_err(step, data["step_logits"]),
        "step_top1_agreeing": int((step.argmax(-1) == data["step_logits"].argmax(-1)).sum()),
    }


def verdict_check(run, data: dict, floors: dict, prefix=None) -> dict:
    return _check(lambda: verdict_figures(run, data, prefix), VERDICT_GATES, floors)


def decoder_check(decoder, data: dict, floors: dict) -> dict:
    return _check(lambda: decoder_figures(decoder, data), DECODER_GATES, floors)


def _check(measure, gates, floors: dict) -> dict:
    """Figures, the floors they were held to, passed/failed with the breaches named, and the cost."""
    t0 = time.perf_counter()
    figures = measure()
    breaches = [f"{name} {figures[name]:.3g} > {floors[floor]:.3g}" for name, floor in gates
                if name in figures and floors.get(floor) is not None and not figures[name] <= floors[floor]]
    return {"status": "failed" if breaches else "passed", "reason": "; ".join(breaches), "figures": figures,
            "floors": dict(floors), "seconds": round(time.perf_counter() - t0, 4)}


def floors_for(manifest: mf.Manifest, precision: str) -> dict:
    floors = manifest.probe.get("floors", {})
    if precision not in floors:
        raise mf.ManifestError(f"the export's probe has no floors for {precision}; re-export with `c4u export`")
    return floors[precision]


def where() -> str:
    """This machine in a few words, for a probe's one-line reason."""
    info = cpu_info()
    return f"{info['model']}, {info['u8s8_kernel']['name']}"
