"""The student's verdict costs one forward pass: verdict scorer (both orders) vs. generate().

Builds the `smolvlm-256m-shape` preset in memory (random weights, SmolVLM-256M's dimensions, no
download) and times, on the CPU, for one synthetic pair:
  * the verdict scorer: one batched prefill of the pair in both image orders (AB, BA), images
    preprocessed and encoded once each;
  * the same model generating a teacher-style rationale with ``generate()``: the AB order,
    greedy, exactly ``--new-tokens`` new tokens (``min_new_tokens`` too, so random weights cannot
    stop early).
Both include preprocessing and tokenising. Warm-up runs are excluded; the medians of ``--runs``
runs are compared. Prints one JSON line last.

    python benchmarks/verdict_vs_generate.py --runs 3
"""

from creative4u_small.bench.scorer_speed import VerdictVsGenerateConfig, verdict_vs_generate
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(VerdictVsGenerateConfig, verdict_vs_generate, __doc__)
