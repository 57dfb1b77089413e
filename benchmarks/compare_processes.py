"""Compare latency of several engine configurations, each timed in a process of its own, the processes alternating.

Two ONNX Runtime sessions in one process contend for threads, so side-by-side figures taken in one process can
skew. Here every round starts one fresh process per configuration (in rotating order), which loads the export,
warms up and times ``--runs`` compares (both orders, new creatives each call: the embedding cache cleared); a
configuration's figure is the median over all its rounds' calls. Ratios are the first configuration's median
over each other's. Prints one JSON line last.

    python benchmarks/compare_processes.py --export EXPORT --config cpu:int8 --config openvino:int8 --rounds 4 --runs 5
    python benchmarks/compare_processes.py --export EXPORT --config openvino:int8 --config openvino:int8:no-prefix --rank 16
"""

from creative4u_small.bench.processes import CompareProcessesConfig, compare_processes
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(CompareProcessesConfig, compare_processes, __doc__)
