"""The PyTorch verdict scorer on a GPU in bf16 / fp16 (and fp32): compare latency (both orders) and pairs/s at
batch 1/8/32, with the verdicts' agreement against fp32. For a lent GPU machine; no test depends on it.

It builds the model from an offline preset (no download) unless --model is given, synthesises 512 px
creatives, warms up, times with perf_counter after torch.cuda.synchronize, and prints one JSON line last.
On a CPU (``--device cpu --dtypes float32``) it runs the same code as a smoke check.

    python benchmarks/gpu_scorer.py --preset smolvlm-256m-shape --device cuda --dtypes bfloat16,float16,float32 --runs 20
"""

from creative4u_small.bench.scorer_speed import GpuScorerConfig, gpu_scorer
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(GpuScorerConfig, gpu_scorer, __doc__)
