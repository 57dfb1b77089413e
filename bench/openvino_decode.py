"""Explanation decoding on OpenVINO four ways, per token (`openvino_decode.py`): the plain step graph, a cache in
numpy buckets, the stateful step IR, the stateful step IR writing its cache in place (the runtime's); ONNX Runtime's
decode of the same prompt beside them."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.bench.machine import machine_summary
from creative4u_small.bench.workload import synthetic_items
from creative4u_small.contract.settings import setting
from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.engines import openvino_engine
from creative4u_small.runtime.explain import CachedDecoder, greedy_decode
from creative4u_small.runtime.selector import Selector


class BucketedDecoder(CachedDecoder):
    """The cache in buffers that grow ``bucket`` tokens at a time, their unused slots masked out, so the step graph
    sees one shape per bucket instead of a new one every token (engines that prepare each new shape pay once per
    bucket). Positions come from the mask, so the slots' order does not matter: the answers are the plain cache's."""

    def __init__(self, prefill, step, num_layers: int, bucket: int = 64):
        super().__init__(prefill, step, num_layers)
        self.bucket, self.used = bucket, 0
        self.mask = np.zeros((0, 0), np.int64)

    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        logits = super().prefill(feeds)
        self.used = feeds["attention_mask"].shape[1]
        self._grow(feeds["attention_mask"])
        return logits

    def _grow(self, mask: np.ndarray) -> None:
        """Room for ``bucket`` more tokens: every buffer (and the mask) re-allocated one bucket longer."""
        size = (self.used // self.bucket + 1) * self.bucket
        self.mask = np.zeros((mask.shape[0], size), np.int64)
        self.mask[:, : self.used] = mask[:, : self.used]
        grown = []
        for t in self.past:
            buf = np.zeros((*t.shape[:2], size, t.shape[3]), t.dtype)
            buf[:, :, : self.used] = t[:, :, : self.used]
            grown.append(buf)
        self.past = grown

    def step(self, next_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """As ``CachedDecoder.step`` (``attention_mask`` is implied by the buffers and not read)."""
        rows = next_ids.shape[0]
        feeds = {"input_ids": next_ids, "attention_mask": np.concatenate([self.mask, np.ones((rows, 1), np.int64)], 1),
                 **dict(zip(mf.past_names(self.num_layers), self.past))}
        out = self.step_graph.run(feeds)
        for buf, name in zip(self.past, mf.present_names(self.num_layers)):
            buf[:, :, self.used] = out[name][:, :, -1]
        self.mask[:, self.used] = 1
        self.used += 1
        if self.used == self.mask.shape[1]:
            self._grow(self.mask)
        return out[mf.LOGITS_OUTPUT]


class ConcatStatefulDecoder:
    """The stateful step whose cache grows one token every step (OpenVINO's stateful transformation alone)."""

    def __init__(self, prefill, compiled, layers: int):
        self.prefill_graph, self.compiled, self.layers, self.request = prefill, compiled, layers, None

    def prefill(self, feeds):
        import openvino as ov

        out = self.prefill_graph.run(feeds)
        self.request = self.compiled.create_infer_request()
        index = {p + q: i for i, (p, q) in enumerate(zip(mf.past_names(self.layers), mf.present_names(self.layers)))}
        for state in self.request.query_state():
            state.state = ov.Tensor(out[mf.present_names(self.layers)[index[state.name]]])
        return out[mf.LOGITS_OUTPUT]

    def step(self, next_ids, attention_mask):
        return self.request.infer({"input_ids": next_ids, "attention_mask": attention_mask})[self.compiled.output(mf.LOGITS_OUTPUT)]


def decode_ms(sel, decoder, feeds, forced, tokens: int) -> tuple[float, list[int]]:
    """One greedy decode of exactly ``tokens`` tokens through ``decoder``: (ms per generated token, the tokens)."""
    t0 = time.perf_counter()
    out = greedy_decode(decoder, feeds, [forced], sel.manifest.prompt, tokens, tokens)[0]
    return (time.perf_counter() - t0) * 1000 / max(1, len(out) + len(forced)), out


@dataclass(frozen=True)
class OpenvinoDecodeConfig:
    export: Path = setting(help="Export with the decoder graphs and OpenVINO IR (c4u export --openvino).")
    precision: str = setting("int8", "Precision of the decoder graphs on both engines.")
    tokens: int = setting(32, "Tokens decoded per explanation (exactly, min_new_tokens alike).")
    runs: int = setting(3, "Timed decodes per way after one warm-up round.")
    bucket: int = setting(64, "Tokens the bucketed cache grows by.")
    threads: int = setting(2, "Threads of both engines.")
    workdir: Path = setting(Path("/tmp/c4u_openvino_decode"), "Folder for the synthetic creatives.")


def decode_ways(cfg: OpenvinoDecodeConfig, ov: Selector, ort: Selector) -> dict:
    """name -> a fresh decoder of that way (plain step graph, buckets, stateful, stateful in place, ONNX Runtime)."""
    from openvino._offline_transformations import apply_make_stateful_transformation

    entry = ov.manifest.graphs[ov.graph_keys[mf.DECODER_STEP]]
    properties = entry.quantization.get("compile_properties")
    plain_step = openvino_engine.open_ir(cfg.export / entry.file, cfg.precision, cfg.threads, properties=properties)
    prefill, layers = ov._graph(mf.DECODER_PREFILL), ov.manifest.dims.num_layers
    mapping = dict(zip(mf.past_names(layers), mf.present_names(layers)))
    concat_step = openvino_engine.open_ir(cfg.export / entry.file, cfg.precision, cfg.threads, properties=properties,
                                          transform=lambda model: apply_make_stateful_transformation(model, mapping)).compiled
    return {"plain": lambda: CachedDecoder(prefill, plain_step, layers),
            "buckets": lambda: BucketedDecoder(prefill, plain_step, layers, cfg.bucket),
            "stateful": lambda: ConcatStatefulDecoder(prefill, concat_step, layers),
            "stateful-in-place": lambda: ov._decoder(),
            "onnxruntime": lambda: ort._decoder()}


def openvino_decode(cfg: OpenvinoDecodeConfig) -> dict:
    """Every way decodes the same pairs in turn (the first round warms up); ms per token and whether the tokens agree."""
    ov = Selector.load(cfg.export, backend="openvino", precision=cfg.precision, threads=cfg.threads)
    ort = Selector.load(cfg.export, backend="cpu", precision=cfg.precision, threads=cfg.threads)
    ov.open_decoder()
    ort.open_decoder()
    ways = decode_ways(cfg, ov, ort)
    items = synthetic_items(cfg.runs + 1, cfg.workdir / "synth", 0, ov.manifest.preprocessing.image_size)
    spec = ov.manifest.prompt
    forced = [spec.verdict_token_ids[0], *spec.answer_close_ids]
    ms, tokens = {k: [] for k in ways}, {}
    for i in range(cfg.runs + 1):  # the first round warms every way up (its first shapes) and is not counted
        a, b, query, title = items[i % len(items)]
        ids = ov.tokenizer.judge_ids(query, title)
        for name, make in ways.items():
            sel = ort if name == "onnxruntime" else ov
            feeds = sel._rows([(ids, *sel.embed([a, b]))], mf.DECODER_PREFILL)
            step_ms, out = decode_ms(sel, make(), feeds, forced, cfg.tokens)
            if i:
                ms[name].append(step_ms)
            tokens.setdefault(i, {})[name] = out
    p50 = {k: statistics.median(v) for k, v in ms.items()}
    same = all(t["plain"] == t["buckets"] == t["stateful"] == t["stateful-in-place"] for t in tokens.values())
    return {"bench": "openvino_decode", "export": str(cfg.export), "precision": cfg.precision, "tokens": cfg.tokens,
            "runs": cfg.runs, "threads": cfg.threads, "ms_per_token_p50": {k: round(v, 2) for k, v in p50.items()},
            "onnxruntime_over": {k: round(p50["onnxruntime"] / v, 3) for k, v in p50.items() if k != "onnxruntime"},
            "openvino_ways_agree": same, "machine": machine_summary("cpu", "int8_flags")}
