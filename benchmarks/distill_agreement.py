"""Slow check: a student distilled from the `small` teacher's labels agrees with it on held-out pairs.

Stages (each skipped when its output already exists under ``--work``, so a rerun resumes):
  1. data     synthetic pairs (``--train`` + ``--heldout``) at the preset's image size;
  2. teacher  `small` preset, CoT-SFT on the training pairs (what `c4u teacher sft` runs);
  3. label    the teacher labels the training and held-out pairs (what `c4u label` runs);
  4. student  a smaller Idefics3 config distilled from the training labels (`c4u distill`);
  5. eval     the student on the labelled held-out pairs (`c4u eval`).
Pass: agreement with the teacher >= 95%, student accuracy within 3 points of the teacher's,
order consistency >= 90%. Prints one JSON line last.

    python benchmarks/distill_agreement.py --work /tmp/c4u_agreement            # the full sizes
    python benchmarks/distill_agreement.py --train 400 --heldout 100 --teacher-epochs 1   # a smoke run
"""

from creative4u_small.bench.distill_agreement import DistillAgreementConfig, distill_agreement
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(DistillAgreementConfig, distill_agreement, __doc__)
