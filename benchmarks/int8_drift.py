"""INT8 against fp32 through the runtime on this CPU, and what the load-time parity probe costs.

For an export with INT8 graphs: every pair of ``--pairs`` compared by ``Selector`` in fp32 and in
INT8 (same backend, same preprocessing; ``--backend openvino`` compares the OpenVINO IR), then max,
p99 and mean |delta p_a|, verdict agreement over all pairs and over decisive ones, and the INT8
probe's figures on this machine. The probe's cost is
the median of ``--load-runs`` ``Selector.load`` calls with the probe minus the median without it,
side by side in one run. The CPU model, its INT8 flags and the kernel they select are recorded
with every figure (with ``--backend openvino`` also the CPU OpenVINO sees: under qemu, /proc/cpuinfo is
the host's while CPUID is the emulated CPU's). Prints one JSON line last.

    python benchmarks/int8_drift.py --export quickstart_out/export --pairs quickstart_out/data/heldout.jsonl
    python benchmarks/int8_drift.py --backend openvino --export EXPORT --pairs PAIRS --load-runs 0
"""

from creative4u_small.bench.int8_drift import Int8DriftConfig, int8_drift
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(Int8DriftConfig, int8_drift, __doc__)
