"""Relative error against fp32 of every reduced-precision path of one export, on synthetic creatives.

For ``--pairs`` synthetic pairs (2 creatives each) at the export's frame size: the vision features of
each creative and the judge's verdict logits (both orders of each pair) from ONNX Runtime's fp32
graphs are the reference. Each variant (ONNX Runtime INT8, OpenVINO INT8 IR, OpenVINO fp32 IR and,
where the CPU has BF16, the fp32 IR under OpenVINO's bf16 hint) is measured three ways:
vision features ``||got - ref|| / ||ref||`` per creative; judge logits (each row's mean removed, as the
probe does) on the reference features, so the judge's own error shows; and end to end (its own
vision into its own judge) as |delta p_a|. Medians and maxima; the CPU's flags with them. One JSON line last.

    python benchmarks/int8_rel_err.py --export /work/ov/smol-export --pairs 25 --threads 2
"""

from creative4u_small.bench.int8_rel_err import Int8RelErrConfig, int8_rel_err
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(Int8RelErrConfig, int8_rel_err, __doc__)
