"""`c4u serve` against an adversarial client: lockout, exhaustion and crash attempts mixed with good requests.

A real server on 127.0.0.1 (bearer token, its open files limited to ``--nofile``, server defaults otherwise)
takes, bounded in count and time (phases in creative4u_small.bench.abuse_wire):

1. malformed HTTP (request line, header, Content-Length, chunk size) and an unfinished head: JSON refusals;
2. a JSON bomb (``--bomb-mb`` of ``{"0":{},"1":{},...}``), and a well-formed JSON body at the size cap, while
   /healthz is probed every few ms from another process;
3. ``--idle-uploads`` stalled uploads (renewed as the server cuts them) and ``--idle-sockets`` silent
   connections, more than the server's open files, while good compares must be answered in under 1 s;
4. ``--requests`` requests from ``--concurrency`` clients mixing good compares and ranks (plain, JSON, with text
   far over the token budget, with 6,300 x 6,300 one-bit PNGs that decode to ~40 M pixels each) with hostile
   ones (strict text over budget, a rank of pixel bombs over the per-request budget, deep, huge or
   million-key JSON, bools and fractions for integers, too many files, EPS, truncated JPEGs, wrong tokens,
   wrong content types, HEAD probes, a trailing slash with a forged Host);
5. SIGTERM while compares are sent and an upload is stalled.

Every answer is checked: no 5xx; a good request's answer equals the serial in-process Selector's
(``--tolerance``); every refusal is JSON whose ``request_id`` equals the ``X-Request-ID`` header; the
server's RSS after the mixed run stays within ``--rss-ratio`` of its RSS after warm-up. The last line is one
JSON object; the exit status is 1 when a check failed.

    python benchmarks/serve_abuse.py --export EXPORT [--requests 2000]
"""

from creative4u_small.bench.script_args import run_script
from creative4u_small.bench.serve_abuse import ServeAbuseConfig, serve_abuse

if __name__ == "__main__":
    raise SystemExit(0 if run_script(ServeAbuseConfig, serve_abuse, __doc__)["passed"] else 1)
