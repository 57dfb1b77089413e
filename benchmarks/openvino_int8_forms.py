"""OpenVINO INT8 forms side by side: accuracy against fp32 on the shift set and on held-out pairs, and speed.

From an export with OpenVINO IR (`c4u export --openvino`) and the model it came from, each form's INT8 IR of the
verdict graphs (vision, judge, judge_extend) is made into a folder of its own beside the export's other files:

- ``static``: NNCF post-training INT8 (transformer preset, SmoothQuant at 0.95), static activation ranges
  calibrated on ``--calib`` pairs (as `--openvino-int8 static`);
- ``static-sq-off``: the same without SmoothQuant;
- ``static-mlp-float``: the same with every MLP down-projection (the MatMul after GELU or the gated SiLU product,
  where activations have the largest outliers) left float;
- ``static-mixed``: calibrated on ``--calib`` pairs and as many distribution-shift pairs (their own seed, never
  the pairs evaluated on);
- ``dynamic-gN``: INT8 weights (nncf.compress_weights INT8_SYM) with the CPU plugin quantizing activations at run
  time in groups of N input channels (as `--openvino-int8 dynamic`, N = 32);
- ``weights-only``: INT8 weights, activations float (dynamic quantization off);
- ``existing``: the export's own INT8 IR as it is.

Each form runs through the runtime's Selector (OpenVINO, INT8) on every ``--pairs`` file against ONNX Runtime's
fp32 graphs: verdict agreement over decisive pairs, median, p99 and max |Δp_a|; then compares are timed, the forms
alternating call by call in this one process (new creatives every call). Prints one JSON line last.

    python benchmarks/openvino_int8_forms.py --model MODEL --export EXPORT --calib TRAIN_PAIRS \\
        --pairs SHIFT_PAIRS,HELDOUT_PAIRS --forms static,static-mixed,dynamic-g32,weights-only --time-runs 5
"""

from creative4u_small.bench.openvino_int8_forms import OpenvinoInt8FormsConfig, openvino_int8_forms
from creative4u_small.bench.script_args import run_script

if __name__ == "__main__":
    run_script(OpenvinoInt8FormsConfig, openvino_int8_forms, __doc__)
