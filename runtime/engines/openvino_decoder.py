"""Explanations on OpenVINO: the decoder step IR made stateful, its KV cache written in place.

The plain step graph takes the cache as inputs and returns it one token longer, so the cache crosses into numpy
and back every token and every step is a new shape, which OpenVINO's CPU plugin prepares before running it. Here,
at compile time, the step IR changes in two ways:

- each layer's ``present.*`` output becomes ``ScatterUpdate(past, write_index, new key or value)``: the new
  token's key and value are written into a slot of a fixed-size buffer instead of appended to it (the attention
  still reads the buffer with the new token after it, so the graph computes what it computed before);
- OpenVINO's stateful transformation (as optimum-intel exports LLMs) turns ``past.*`` into the model's state
  and that output into its assignment, so the cache stays inside OpenVINO between steps.

The buffer has room for ``BUCKET`` more tokens at a time, its free slots masked out (positions come from the
mask), so every step within a bucket is the same shape; a full buffer grows by one bucket.
"""

from __future__ import annotations

import numpy as np

from creative4u_small.runtime import manifest as mf

BUCKET = 64  # cache slots added at a time
WRITE_INDEX = "write_index"  # the slot the step writes its token's key and value into


def make_stateful_in_place(model, num_layers: int) -> None:
    """Rewrite the step IR ``model`` (an ``openvino.Model``) as described above, in place."""
    import openvino as ov
    import openvino.opset13 as ops
    from openvino._offline_transformations import apply_make_stateful_transformation

    index = ops.parameter([1], ov.Type.i64, name=WRITE_INDEX)
    index.output(0).get_tensor().set_names({WRITE_INDEX})
    for param in model.get_parameters():
        if not param.get_friendly_name().startswith("past."):
            continue
        concat = next(t.get_node() for t in param.output(0).get_target_inputs() if t.get_node().get_type_name() == "Concat")
        result = next(t.get_node() for t in concat.output(0).get_target_inputs() if t.get_node().get_type_name() == "Result")
        written = ops.scatter_update(param.output(0), index.output(0), concat.input_value(1), ops.constant(np.int64(2)))
        result.input(0).replace_source_output(written.output(0))
        names = concat.output(0).get_tensor().get_names()
        concat.output(0).get_tensor().set_names(set())
        written.output(0).get_tensor().set_names(names)
    model.add_parameters([index])
    model.validate_nodes_and_infer_types()
    apply_make_stateful_transformation(model, dict(zip(mf.past_names(num_layers), mf.present_names(num_layers))))


class StatefulStep:
    """The compiled in-place stateful step; one infer request per explanation holds that explanation's cache."""

    def __init__(self, compiled, num_layers: int, details: dict):
        self.compiled, self.num_layers, self.details = compiled, num_layers, details
        self._index = {p + q: i for i, (p, q) in enumerate(zip(mf.past_names(num_layers), mf.present_names(num_layers)))}
        self._logits = compiled.output(mf.LOGITS_OUTPUT)

    def request(self, past: list[np.ndarray], capacity: int):
        """A new infer request whose state is ``past`` (the prefill's cache) in buffers of ``capacity`` slots."""
        request = self.compiled.create_infer_request()
        self.fill(request, past, capacity)
        return request

    def fill(self, request, past: list[np.ndarray], capacity: int) -> None:
        """Set ``request``'s state to ``past``, zero-padded to ``capacity`` slots."""
        import openvino as ov

        for state in request.query_state():
            cache = past[self._index[state.name]]
            buf = np.zeros((*cache.shape[:2], capacity, cache.shape[3]), cache.dtype)
            buf[:, :, : cache.shape[2]] = cache
            state.state = ov.Tensor(buf)

    def state(self, request) -> list[np.ndarray]:
        """``request``'s cache buffers, in ``past.*`` order."""
        out = [None] * (2 * self.num_layers)
        for state in request.query_state():
            out[self._index[state.name]] = np.array(state.state.data)
        return out

    def logits(self, request, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return request.infer(feeds)[self._logits]


class StatefulDecoder:
    """Explanation decoding on OpenVINO: the prefill IR once, then the stateful step; ``explain.CachedDecoder``'s
    interface (the greedy loop's growing mask is not read: the decoder keeps the buffer's own)."""

    def __init__(self, prefill, step: StatefulStep):
        self.prefill_graph, self.step_graph = prefill, step
        self.request, self.mask, self.used = None, np.zeros((0, 0), np.int64), 0

    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        out = self.prefill_graph.run(feeds)
        self.used = feeds["attention_mask"].shape[1]
        capacity = (self.used // BUCKET + 1) * BUCKET
        self.request = self.step_graph.request([out[n] for n in mf.present_names(self.step_graph.num_layers)], capacity)
        self._mask(feeds["attention_mask"], capacity)
        return out[mf.LOGITS_OUTPUT]

    def _mask(self, written: np.ndarray, capacity: int) -> None:
        """The step's mask: the buffer's filled slots, its free ones masked out, then the new token."""
        self.mask = np.zeros((written.shape[0], capacity + 1), np.int64)
        self.mask[:, : self.used] = written[:, : self.used]
        self.mask[:, -1] = 1

    def step(self, next_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        capacity = self.mask.shape[1] - 1
        if self.used == capacity:  # full: one bucket more (a new shape once per bucket)
            self.step_graph.fill(self.request, self.step_graph.state(self.request), capacity + BUCKET)
            self._mask(self.mask, capacity + BUCKET)
        logits = self.step_graph.logits(self.request, {"input_ids": next_ids, "attention_mask": self.mask,
                                                       WRITE_INDEX: np.array([self.used], np.int64)})
        self.mask[:, self.used] = 1
        self.used += 1
        return logits
