"""How good are `c4u data annotate` rationales? Acceptance, and protocol lines against the renderer's truth.

Annotates the first ``--n`` pairs of a synthetic CreativePair file with ``--annotator`` (a trained
teacher folder, or an endpoint URL) and compares each accepted rationale's protocol lines Q1–Q9
with the synthetic ground truth: the renderer writes every pair's rationale from its hidden
factors (``creative4u_small.data.synth.rationale``), so the input file's ``rationale`` is the truth.
Reports the acceptance rate, rejects by reason, per-question agreement, the share of accepted
rationales whose every line matches, and agreement on the decisive lines (truth not ``A=B``).
Prints one JSON line last (with the CPU model and flags).

    python benchmarks/annotate_agreement.py --annotator /tmp/qfull/models/teacher \\
        --pairs /tmp/qfull/data/heldout/pairs.jsonl --n 300 --work /tmp/c4u_annotate --prompt annotate
"""

from creative4u_small.bench.annotate_agreement import AnnotateAgreementConfig, annotate_agreement
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(AnnotateAgreementConfig, annotate_agreement, __doc__)
