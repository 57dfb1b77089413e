"""Explanation decoding on OpenVINO, four ways, per token: plain, buckets, stateful, stateful in place.

The plain step graph takes the KV cache as inputs and returns it one token longer: every step is a new shape,
which OpenVINO's CPU plugin prepares before it runs it, and the cache crosses into numpy and back. Three ways
past that are measured side by side with it, on the export's decoder IR (``--precision``), one greedy decode of
``--tokens`` tokens each, alternating:

- ``buckets``: the cache in numpy buffers that grow ``--bucket`` tokens at a time, unused slots masked out
  (positions come from the mask), so the step graph sees one shape per bucket;
- ``stateful``: the step IR made stateful (``apply_make_stateful_transformation``, as optimum-intel exports
  LLMs), the cache kept inside OpenVINO but still one token longer every step;
- ``stateful-in-place``: stateful, the new token written into a buffer slot (``runtime.engines.openvino_decoder``):
  what the runtime's openvino engine decodes with.

ONNX Runtime's INT8 decode of the same prompt is timed beside them. Tokens must agree between the three OpenVINO
ways. Prints one JSON line last.

    python benchmarks/openvino_decode.py --export exports/smolvlm-256m-shape --tokens 32 --runs 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from creative4u_small.runtime import manifest as mf
from creative4u_small.runtime.explain import CachedDecoder


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
    from creative4u_small.runtime.explain import greedy_decode

    t0 = time.perf_counter()
    out = greedy_decode(decoder, feeds, [forced], sel.manifest.prompt, tokens, tokens)[0]
    return (time.perf_counter() - t0) * 1000 / max(1, len(out) + len(forced)), out


def main() -> None:
    from creative4u_small.contract.cpu_info import cpu_info
    from creative4u_small.data.synth import synthesize
    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.runtime import Selector

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bucket", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/c4u_openvino_decode"))
    args = ap.parse_args()

    ov = Selector.load(args.export, backend="openvino", precision=args.precision, threads=args.threads)
    ort = Selector.load(args.export, backend="cpu", precision=args.precision, threads=args.threads)
    ov.open_decoder()
    ort.open_decoder()
    from creative4u_small.runtime.engines import openvino_engine

    entry = ov.manifest.graphs[ov.graph_keys[mf.DECODER_STEP]]
    plain_step = openvino_engine.open_ir(args.export / entry.file, args.precision, args.threads,
                                         properties=entry.quantization.get("compile_properties"))
    prefill, layers = ov._graph(mf.DECODER_PREFILL), ov.manifest.dims.num_layers
    from openvino._offline_transformations import apply_make_stateful_transformation

    mapping = dict(zip(mf.past_names(layers), mf.present_names(layers)))
    concat_step = openvino_engine.open_ir(args.export / entry.file, args.precision, args.threads,
                                          properties=entry.quantization.get("compile_properties"),
                                          transform=lambda model: apply_make_stateful_transformation(model, mapping)).compiled
    ways = {"plain": lambda: CachedDecoder(prefill, plain_step, layers),
            "buckets": lambda: BucketedDecoder(prefill, plain_step, layers, args.bucket),
            "stateful": lambda: ConcatStatefulDecoder(prefill, concat_step, layers),
            "stateful-in-place": lambda: ov._decoder(),
            "onnxruntime": lambda: ort._decoder()}
    p = load_pairs(synthesize(args.runs + 1, args.workdir / "synth", seed=0, image_size=ov.manifest.preprocessing.image_size))
    spec = ov.manifest.prompt
    forced = [spec.verdict_token_ids[0], *spec.answer_close_ids]
    ms, tokens = {k: [] for k in ways}, {}
    for i in range(args.runs + 1):  # the first round warms every way up (its first shapes) and is not counted
        pair = p[i % len(p)]
        ids = ov.tokenizer.judge_ids(pair.query, pair.title)
        for name, make in ways.items():
            sel = ort if name == "onnxruntime" else ov
            feeds = sel._rows([(ids, *sel.embed([pair.image_a, pair.image_b]))], mf.DECODER_PREFILL)
            step_ms, out = decode_ms(sel, make(), feeds, forced, args.tokens)
            if i:
                ms[name].append(step_ms)
            tokens.setdefault(i, {})[name] = out
    p50 = {k: statistics.median(v) for k, v in ms.items()}
    same = all(t["plain"] == t["buckets"] == t["stateful"] == t["stateful-in-place"] for t in tokens.values())
    info = cpu_info()
    print(json.dumps({"bench": "openvino_decode", "export": str(args.export), "precision": args.precision, "tokens": args.tokens,
                      "runs": args.runs, "threads": args.threads, "ms_per_token_p50": {k: round(v, 2) for k, v in p50.items()},
                      "onnxruntime_over": {k: round(p50["onnxruntime"] / v, 3) for k, v in p50.items() if k != "onnxruntime"},
                      "openvino_ways_agree": same,
                      "machine": {"cpu": info["model"], "int8_flags": info["int8_flags"]}}))


if __name__ == "__main__":
    main()
