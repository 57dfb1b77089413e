"""Ranking at scale: the tournament schedule against a full round robin.

Part 1 (always): on the simulated noisy judge (``creative4u_small.bench.simulated_judge``), for each pool size
and seed, the same judge ranks the pool twice — ``tournament.run`` (round robin for small pools,
Swiss rounds plus a leaders' round robin for large ones) and a full round robin — and top-1 and
top-5 recovery of the hidden order are averaged over seeds, with the paired difference's standard
error. Comparisons and judge calls per rank are reported against N·log2 N and N(N-1)/2.

Part 2 (with ``--export``): a real export ranks ``--images`` generated images side by side with
comparing every pair through the same ``Selector`` (same graphs, same embeddings cache cleared
before each), timed in one run. The CPU model and its vector/INT8 flags go with the figures.
Prints one JSON line last.

    python benchmarks/rank_scale.py --sizes 64,256 --seeds 300
    python benchmarks/rank_scale.py --sizes 64 --seeds 50 --export exports/student --images 64
"""

from creative4u_small.bench.rank_scale import RankScaleConfig, rank_scale
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(RankScaleConfig, rank_scale, __doc__)
