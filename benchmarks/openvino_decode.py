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

from creative4u_small.bench.openvino_decode import OpenvinoDecodeConfig, openvino_decode
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(OpenvinoDecodeConfig, openvino_decode, __doc__)
