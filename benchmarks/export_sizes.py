"""Export sizes and times: `c4u export --int8` of a preset (default `smolvlm-256m-shape`) on this CPU.

Writes the preset (random weights, the real model's dimensions, no download), then runs the
full export (fp32 graphs, dynamic INT8 graphs, parity on held-out
synthetic pairs) and reports the wall time of every stage, the size of every graph, the peak
resident memory, the parity figures, and the median ONNX Runtime latency of one pair (both
orders: vision for two images + judge for two rows) per precision. A warm-up export of the
`tiny` preset runs first so that import and first-call costs are not counted. Prints one JSON
line last.

    python benchmarks/export_sizes.py --preset smolvlm-256m-shape --pairs 8
"""

from creative4u_small.bench.export_sizes import ExportSizesConfig, export_sizes
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(ExportSizesConfig, export_sizes, __doc__)
