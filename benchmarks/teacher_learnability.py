"""Can the `small` preset learn the synthetic task as a reasoning teacher?

Renders a synthetic training set and a held-out set (another seed), trains the `small` preset
with `c4u teacher sft` (the same `train_sft`), measures held-out accuracy of the teacher's
verdict after its own greedy reasoning (`label_pairs`, k=1, temperature 0: the labelling path),
runs a few GRPO steps and measures again. Prints one JSON line last.

Example: python benchmarks/teacher_learnability.py --work /tmp/learn --train 2000 --heldout 300
"""

from creative4u_small.bench.script_args import run_script
from creative4u_small.bench.teacher_learnability import TeacherLearnabilityConfig, teacher_learnability

if __name__ == "__main__":
    run_script(TeacherLearnabilityConfig, teacher_learnability, __doc__)
