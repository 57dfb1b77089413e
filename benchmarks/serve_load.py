"""`c4u serve` under load, side by side in one run: HTTP vs in-process, batching on vs off, bad input, kill -9.

Bounded loopback traffic from an httpx driver (``creative4u_small.serve.client``), every phase capped in
requests and seconds. Each timed request carries a pair of creatives never sent before (JPEGs made
up front), so the embedding cache does not flatter the figures. Phases:

1. serial in-process ``Selector.compare`` (the reference) on fresh pairs;
2. a server with micro-batching on (``--workers`` processes): concurrency 1, 8, 32 (throughput, p50/p99, failures);
3. the same with ``--max-batch 1`` (batching off);
4. RSS of the server before and after ``--rss-requests`` requests with a truncated JPEG every tenth
   (pairs cycle over a fixed pool, so the embedding cache is already full: growth would be a leak);
5. ``kill -9`` of the server under load at concurrency 8, restart: seconds to /readyz, and every
   answer checked against the in-process result (``--tolerance``).

The last line is one JSON object.

    c4u model init --preset mini --out /tmp/srv_model && c4u export --model /tmp/srv_model --out /tmp/srv_export --int8
    python benchmarks/serve_load.py --export /tmp/srv_export --precision int8 [--workers 2 --threads 1]
"""

from creative4u_small.bench.script_args import run_script
from creative4u_small.bench.serve_load import ServeLoadConfig, serve_load

if __name__ == "__main__":
    run_script(ServeLoadConfig, serve_load, __doc__)
