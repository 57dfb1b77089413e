"""Where the time goes, OpenVINO INT8 against ONNX Runtime INT8: kernel time by kind against this CPU's measured rates.

For one export holding both the ONNX Runtime INT8 graphs and the OpenVINO INT8 IR (`c4u export --int8
--openvino`): the vision graph on one creative and the judge on one compare's two order rows, as the
Selector builds them. OpenVINO's performance counters (``PERF_COUNT``, ``InferRequest.profiling_info``)
and ONNX Runtime's profiler (``bench.kernel_profile.profile_ops``) time every node; the time is summed by
kind: INT8 GEMMs (weight MatMuls/FullyConnected running an integer kernel), attention (the attention
op, or the float activation x activation products and softmax), float GEMMs, OpenVINO's fused
``Subgraph`` snippets, everything else. The
achieved INT8 GEMM rate (weight GOPs of ``bench.kernel_profile.work`` over its kernel time) is set beside
one large GEMM measured here on each engine: [1024 x 768] x [768 x 3072] in INT8 (ONNX Runtime's dynamic
u8 x s8; OpenVINO's NNCF static INT8) and fp32 (OpenVINO also bf16 where the CPU has it).
Node times are summed over ``--runs`` calls after one warm-up and divided by the calls. One JSON line last.

    python benchmarks/openvino_profile.py --export /work/ov/smol-export --model /work/ov/smol --runs 10 --threads 2
"""

from creative4u_small.bench.openvino_profile import OpenvinoProfileConfig, openvino_profile
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(OpenvinoProfileConfig, openvino_profile, __doc__)
