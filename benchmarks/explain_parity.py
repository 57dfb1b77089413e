"""The exported rationale (KV-cache decoder graphs, fp32 and INT8) against PyTorch greedy decoding, token for token.

For each of the first ``--n`` pairs the runtime's verdict is forced (``<answer>X</answer>``), as
``Selector.compare(explain=True)`` does, and the rationale is decoded greedily by the decoder graphs
of each precision and by ``transformers`` ``generate`` on the same prompt + forced prefix. Reported
per precision: pairs whose token sequences are identical, and for the others where they first
differ and the PyTorch logit margin (top-1 minus top-2) at that step: a divergence at a near tie
is rounding (INT8 weights, fp32 kernel order), one at a wide margin would be a bug.

    python benchmarks/explain_parity.py --export quickstart_out/export --model quickstart_out/models/student \\
        --pairs quickstart_out/data/heldout/pairs.jsonl --n 20
"""

from creative4u_small.bench.explain_parity import ExplainParityConfig, explain_parity
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(ExplainParityConfig, explain_parity, __doc__)
