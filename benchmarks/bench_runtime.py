"""Runtime vs transformers, side by side in one run (drives `c4u bench`'s ``run_bench``).

Builds (once, in --workdir) a random-weight model of a preset and its fp32 + INT8 export unless
--export/--model are given, then measures the ONNX Runtime backends and the transformers
baseline on the same synthetic workload and checks these targets:

- INT8 compare on CPU >= 3x faster than transformers ``generate`` (N new tokens, min_new_tokens = N);
- INT8 compare >= 1.3x faster than fp32 ONNX;
- rank of 16 images >= 5x faster than every ordered pair through the transformers single-pass scorer.

With several backends (``--backends ort,openvino``; ``ort`` is ONNX Runtime's CPU backend, ``cpu``) they
are measured side by side instead, in one process, call by call alternating
(``creative4u_small.bench.side_by_side``), at ``--precision``: compare with its vision and judge stages, rank
of ``--rank-sizes`` and compare with an explanation; the target is the second backend's compare
>= 1.4x faster than the first's (OpenVINO INT8 against ONNX Runtime INT8).

Warm-up runs are excluded (``--warmup``); timings use ``time.perf_counter``. The last line printed
is one JSON object with the headline figures and whether each target is met.

    python benchmarks/bench_runtime.py --preset smolvlm-256m-shape --workdir /tmp/c4u_bench --runs 5
    python benchmarks/bench_runtime.py --export /tmp/c4u_bench/export --backends ort,openvino --runs 20 --rank-sizes 16
"""

from creative4u_small.bench.runtime_targets import RuntimeTargetsConfig, bench_runtime
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(RuntimeTargetsConfig, bench_runtime, __doc__)
