"""The resolved configuration of one `c4u export` run (written into the export folder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.contract.settings import setting
from creative4u_small.export.quantize import MIN_QUANT_WEIGHTS

OPENVINO_INT8_CHOICES = ("dynamic", "static")
DYNAMIC_GROUP_SIZE = 32  # input channels per run-time activation scale of the dynamic OpenVINO INT8


@dataclass(frozen=True)
class ExportConfig:
    FLAGS = {"fuse": "--fuse/--no-fuse", "decoder": "--decoder/--no-decoder", "prefer_dynamo": "--dynamo/--no-dynamo"}  # command-line spellings other than --field-name
    model: Path = setting(help="Model folder (Hugging Face format, safetensors) to export.")
    out: Path = setting(help="Export folder to write; refused if it holds files unless overwrite.")
    int8: bool = setting(False, "Also write dynamic INT8 graphs (vision, judge, decoder) for ONNX Runtime; --trt adds static QDQ vision and judge graphs.")
    fuse: bool = setting(True, "Fuse the fp32 graphs with ONNX Runtime's transformer optimizer before quantization (attention, GELU, norms); --no-fuse keeps them as exported.")
    fp16: bool = setting(False, "Also write FP16 graphs (fp32 inputs and outputs, norms and softmax kept fp32) that the cuda backend picks by default.")
    openvino: bool = setting(False, "Also write OpenVINO IR of every graph: fp32 and INT8 (see --openvino-int8); needs openvino and nncf.")
    openvino_int8: str = setting("dynamic", "How the OpenVINO INT8 IR is made: dynamic (INT8 weights, activations quantized at run time per token and group by OpenVINO's CPU plugin: holds on creatives unlike the calibration set) or static (NNCF post-training INT8 with activation ranges calibrated on --calib: calibrate on your own creatives).")
    openvino_group_size: int = setting(DYNAMIC_GROUP_SIZE, "Dynamic OpenVINO INT8: input channels per run-time activation scale (a multiple of 16; smaller follows outlier channels more closely, larger runs faster); 0 keeps activations float.")
    trt: bool = setting(False, "Also build TensorRT engines from QDQ graphs (needs an NVIDIA GPU and the tensorrt package).")
    triton: bool = setting(False, "Also write a Triton Inference Server model repository under triton/.")
    calib: Path | None = setting(None, "CreativePair JSONL whose pairs calibrate INT8 and check parity; synthetic pairs when absent.")
    calib_pairs: int = setting(50, "How many pairs (at most) to use for calibration and parity.")
    calib_memory_mb: int = setting(4096, "Memory the static INT8 (QDQ, for --trt) calibration may hold (MiB); bounds how many calibration images/rows are used.")
    decoder: bool = setting(True, "Export the KV-cache decoder graphs for the on-demand rationale.")
    opset: int = setting(18, "ONNX opset of the exported graphs (17 or newer).")
    prefer_dynamo: bool = setting(True, "Try torch.onnx's dynamo exporter first; the TorchScript exporter is the fallback.")
    margin: float = setting(0.05, "A pair is decisive when the PyTorch |p_a - 0.5| is at least this; agreement counts decisive pairs only.")
    min_decisive: int = setting(10, "Fewer decisive pairs than this marks parity 'unverified', never 'passed'.")
    fp32_agreement: float = setting(1.0, "Floor on fp32 verdict agreement (fraction of decisive pairs).")
    fp32_max_dp: float = setting(1e-4, "Ceiling on fp32 max |delta p_a| over all parity pairs.")
    int8_agreement: float = setting(0.99, "Floor on INT8 verdict agreement (fraction of decisive pairs).")
    int8_max_dp: float = setting(0.05, "Ceiling on INT8 max |delta p_a| over all parity pairs; also the parity probe's INT8 floor at load.")
    int8_max_rel_err: float = setting(0.15, "Parity probe: ceiling on an INT8 graph's relative output error (vision embeddings, decoder logits) at load.")
    fp16_agreement: float = setting(0.99, "Floor on FP16 verdict agreement (fraction of decisive pairs), where FP16 graphs can run here.")
    fp16_max_dp: float = setting(0.01, "Ceiling on FP16 max |delta p_a|; also the parity probe's FP16 floor at load.")
    fp16_max_rel_err: float = setting(0.02, "Parity probe: ceiling on an FP16 graph's relative output error at load.")
    int8_min_weights: int = setting(MIN_QUANT_WEIGHTS, "Weight MatMuls with fewer elements stay float in the INT8 graphs (too small to gain from INT8, still paying its noise); 0 quantizes all.")
    probe_pairs: int = setting(1, "Held-out pairs stored in the export's parity probe (replayed by every Selector.load).")
    probe_shift_pairs: int = setting(2, "Pairs of the distribution-shift set also stored in the parity probe, so every load checks INT8 on creatives unlike the calibration set.")
    shift_pairs: int = setting(32, "Pairs of the distribution-shift set (photo-like, text-dense, dark and saturated creatives at other aspect ratios) on which every INT8 variant is checked against fp32; backend auto picks only INT8 that passes. 0 skips the check (auto then picks no INT8).")
    shift_p99_dp: float = setting(0.01, "Shift check: ceiling on an INT8 variant's p99 |delta p_a| against fp32 (agreement is held to --int8-agreement and max |delta p_a| to --int8-max-dp).")
    timing_runs: int = setting(3, "Compares timed on every CPU engine and precision at export (medians in the manifest), by which backend auto ranks the engines; 0 skips it (auto then keeps its fixed order).")
    batch_size: int = setting(8, "Pairs per batch in the parity and calibration runs.")
    trt_max_rows: int = setting(16, "TensorRT profile: most rows (pairs x orders) per judge call.")
    trt_max_images: int = setting(16, "TensorRT profile: most images per vision call.")
    max_slot_tokens: int = setting(protocol.SLOT_TOKEN_BUDGET, "Runtime token budget of the query and of the title (longer text is cut at a token boundary, or refused where asked): at least this, raised to the longest the model trained on where its report.json records it.")
    trt_max_seq: int = setting(0, "TensorRT profile: longest prompt in tokens; 0 = the fixed prompt plus both slots' token budgets.")
    trt_workspace_mb: int = setting(4096, "TensorRT builder workspace memory pool limit in MiB.")
    overwrite: bool = setting(False, "Replace an existing export folder (the old one stays intact until the new one is complete).")
    threads: int = setting(0, "torch / onnxruntime intra-op threads during the export; 0 = library default.")
    seed: int = setting(0, "Seed for synthetic parity pairs.")

    def __post_init__(self):
        if self.openvino_group_size < 0 or self.openvino_group_size % 16:
            raise ValueError(f"openvino_group_size must be 0 or a positive multiple of 16 (OpenVINO's CPU plugin), got {self.openvino_group_size}")
        if self.openvino_int8 not in OPENVINO_INT8_CHOICES:
            raise ValueError(f"openvino_int8 {self.openvino_int8!r} is not one of {', '.join(OPENVINO_INT8_CHOICES)}")
        if self.opset < 17:
            raise ValueError(f"opset {self.opset} is too old; use 17 or newer")
        if not 0 <= self.margin < 0.5:
            raise ValueError(f"margin {self.margin} must be in [0, 0.5)")
        for name in ("fp32_agreement", "fp16_agreement", "int8_agreement"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} {getattr(self, name)} must be a fraction in [0, 1]")
        for name in ("calib_pairs", "calib_memory_mb", "batch_size", "probe_pairs", "trt_max_rows", "trt_max_images", "trt_workspace_mb", "max_slot_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.min_decisive < 1:
            raise ValueError("min_decisive must be at least 1")
        for name in ("shift_pairs", "probe_shift_pairs", "timing_runs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("shift_p99_dp", "fp32_max_dp", "fp16_max_dp", "fp16_max_rel_err", "int8_max_dp", "int8_max_rel_err"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.int8_min_weights < 0:
            raise ValueError(f"int8_min_weights must be 0 or more, got {self.int8_min_weights}")
        if self.threads < 0:
            raise ValueError("threads must be 0 (library default) or positive")
        if self.trt_max_seq < 0:
            raise ValueError("trt_max_seq must be 0 (automatic) or positive")

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
