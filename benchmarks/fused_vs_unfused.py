"""Compare (both orders) on two exports of one model, side by side in one run: the fused graphs `c4u export`
writes now against the graphs as exported (`c4u export --no-fuse`), each at the precision asked (INT8 by
default); plus this CPU's limit for the same work, from its measured INT8 and fp32 GEMM rates.

Runs alternate between the two exports (new creatives every time: the embedding cache is cleared), so
both see the same machine load. Vision per image and judge per compare come from the Selector's stage
timings. The limit counts the weight GEMMs at the INT8 rate and the attention products (activation x
activation, which ONNX Runtime runs in fp32) at the fp32 rate, measured here on one large GEMM each.

With ``--profile``, ONNX Runtime's profiler then times every node of the new export's vision and judge
graphs on one compare's inputs and sums kernel time by kind: INT8 GEMMs (weight MatMuls), attention
(the fused op, or the products and softmax it is made of) and everything else; each kind's achieved
rate is set beside the rate measured for it here, to show how far the graphs are from this CPU.

    python benchmarks/fused_vs_unfused.py --base /tmp/b/export_nofuse --new /tmp/b/export --model /tmp/b/model --runs 10 --profile
"""

from creative4u_small.bench.fused_vs_unfused import FusedVsUnfusedConfig, fused_vs_unfused
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(FusedVsUnfusedConfig, fused_vs_unfused, __doc__)
