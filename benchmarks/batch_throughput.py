"""`c4u batch` throughput, side by side: one process at 2 threads, `--engine local --workers 2 --threads 1`, and
`--engine ray --workers 2 --threads 1` (a local Ray the command starts and stops); and one worker at 1 thread in
this process against one Ray actor, where Ray's own cost per group shows without two workers to place.

Each configuration runs as its own `c4u batch` process over the same groups of two (synthetic CreativePair rows),
in alternation, ``--rounds`` times, after one untimed warm-up run (file cache, first imports). Per run: the
command's wall seconds, the seconds until its first batch was written (start-up: imports, Ray, model loads), its
steady groups/s after that, each worker's groups/s over the time it spent on its groups, and the load average
around it. Reports medians per configuration, the ratios to one process, and Ray's overhead per group (steady
seconds per group against the local processes) and at start-up. The CPU's INT8 flags go with the figures.

``--driver-items N`` measures what does not grow with a cluster: the driver. N groups go through Ray Data to 2
actors that answer at once (no model), and the driver writes every row as ``c4u batch`` does; and the writer
alone appends the same rows. Their rates are the ceiling of one driver, whatever the cluster. Prints one JSON
line last.

    flock /tmp/c4u-bench.lock python benchmarks/batch_throughput.py --export smol_export --groups 200 --rounds 3
    flock /tmp/c4u-bench.lock python benchmarks/batch_throughput.py --driver-items 20000 --configs ""
"""

from creative4u_small.bench.batch_throughput import BatchThroughputConfig, batch_throughput
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(BatchThroughputConfig, batch_throughput, __doc__)
