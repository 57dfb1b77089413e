"""JSON request bodies decoded by msgspec Structs against pydantic's ``model_validate_json`` (``extra="forbid"``, strict).

Both decoders get the same fields and limits as ``/v1/compare`` and ``/v1/rank``: valid bodies with base64 images,
and hostile ones (an object of millions of empty-object keys, an array of millions of short strings, a number of
5,000 digits). Each case runs in a fresh process, so its peak RSS above the process's own baseline is the
decoder's; the median of ``--repeats`` timings is reported. A third row per case, ``server``, is what `c4u serve`
runs (``serve.bodies.decode_json``: msgspec with the server's limits, and a rank body's strings counted before
decoding). The last line is one JSON object.

    python benchmarks/json_decoders.py [--repeats 5]
"""

from creative4u_small.bench.json_decoders import JsonDecodersConfig, json_decoders
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(JsonDecodersConfig, json_decoders, __doc__)
