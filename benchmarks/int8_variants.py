"""INT8 settings side by side on this CPU: speed and error of one exported graph.

Builds, from an export's fp32 ``vision`` graph (fused by ``c4u export`` unless it ran with ``--no-fuse``),
the INT8 variants a user could pick with ``onnxruntime.quantization``:

- ``s8-full``: dynamic, int8 weights in the full range (ONNX Runtime's default; saturates without VNNI),
- ``s8-7bit``: dynamic, int8 weights in [-64, 64] (``reduce_range``; what ``c4u export --int8`` writes),
- ``u8u8``: dynamic, uint8 weights (no saturation either, but no VNNI kernel),
- ``static-u8s8-7bit``: static QDQ, uint8 activations calibrated (MinMax) on ``--calib`` random inputs,
  7-bit int8 weights: no run-time range pass, the form ONNX Runtime's CPU kernels prefer,

and, with ``--unfused-export`` (the same model exported with ``--no-fuse``), today's graph and the
fused-op variant: ``unfused-s8-7bit`` (the dynamic INT8 graph before fusions) and ``qattention``
(attention fused as one ``Attention`` op with packed Q/K/V weights, quantized to ``QAttention``),

then times each (median of ``--runs``, variants interleaved so drift in machine load hits all
alike) and measures its relative output error against fp32 on the same inputs. The CPU model,
its INT8 flags and the kernel they select are recorded. Prints one JSON line last.

    python benchmarks/int8_variants.py --export exports/smolvlm --graph vision --runs 7
"""

from creative4u_small.bench.int8_variants import Int8VariantsConfig, int8_variants
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(Int8VariantsConfig, int8_variants, __doc__)
