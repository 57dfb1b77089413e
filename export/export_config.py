"""The resolved configuration of one `c4u export` run (written into the export folder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from creative4u_small.export.quantize import MIN_QUANT_WEIGHTS


@dataclass(frozen=True)
class ExportConfig:
    model: Path = field(metadata={"help": "Model folder (Hugging Face format, safetensors) to export."})
    out: Path = field(metadata={"help": "Export folder to write; refused if it holds files unless overwrite."})
    int8: bool = field(default=False, metadata={"help": "Also write dynamic INT8 graphs (vision, judge, decoder) for ONNX Runtime; --trt adds static QDQ vision and judge graphs."})
    trt: bool = field(default=False, metadata={"help": "Also build TensorRT engines from QDQ graphs (needs an NVIDIA GPU and the tensorrt package)."})
    triton: bool = field(default=False, metadata={"help": "Also write a Triton Inference Server model repository under triton/."})
    calib: Path | None = field(default=None, metadata={"help": "CreativePair JSONL whose pairs calibrate INT8 and check parity; synthetic pairs when absent."})
    calib_pairs: int = field(default=50, metadata={"help": "How many pairs (at most) to use for calibration and parity."})
    calib_memory_mb: int = field(default=4096, metadata={"help": "Memory the static INT8 (QDQ, for --trt) calibration may hold (MiB); bounds how many calibration images/rows are used."})
    decoder: bool = field(default=True, metadata={"help": "Export the KV-cache decoder graphs for the on-demand rationale."})
    opset: int = field(default=18, metadata={"help": "ONNX opset of the exported graphs (17 or newer)."})
    prefer_dynamo: bool = field(default=True, metadata={"help": "Try torch.onnx's dynamo exporter first; the TorchScript exporter is the fallback."})
    margin: float = field(default=0.05, metadata={"help": "A pair is decisive when the PyTorch |p_a - 0.5| is at least this; agreement counts decisive pairs only."})
    min_decisive: int = field(default=10, metadata={"help": "Fewer decisive pairs than this marks parity 'unverified', never 'passed'."})
    fp32_agreement: float = field(default=1.0, metadata={"help": "Floor on fp32 verdict agreement (fraction of decisive pairs)."})
    fp32_max_dp: float = field(default=1e-4, metadata={"help": "Ceiling on fp32 max |delta p_a| over all parity pairs."})
    int8_agreement: float = field(default=0.99, metadata={"help": "Floor on INT8 verdict agreement (fraction of decisive pairs)."})
    int8_max_dp: float = field(default=0.05, metadata={"help": "Ceiling on INT8 max |delta p_a| over all parity pairs; also the parity probe's INT8 floor at load."})
    int8_max_rel_err: float = field(default=0.15, metadata={"help": "Parity probe: ceiling on an INT8 graph's relative output error (vision embeddings, decoder logits) at load."})
    int8_min_weights: int = field(default=MIN_QUANT_WEIGHTS, metadata={"help": "Weight MatMuls with fewer elements stay float in the INT8 graphs (too small to gain from INT8, still paying its noise); 0 quantizes all."})
    probe_pairs: int = field(default=1, metadata={"help": "Held-out pairs stored in the export's parity probe (replayed by every Selector.load)."})
    batch_size: int = field(default=8, metadata={"help": "Pairs per batch in the parity and calibration runs."})
    trt_max_rows: int = field(default=16, metadata={"help": "TensorRT profile: most rows (pairs x orders) per judge call."})
    trt_max_images: int = field(default=16, metadata={"help": "TensorRT profile: most images per vision call."})
    trt_max_seq: int = field(default=0, metadata={"help": "TensorRT profile: longest prompt in tokens; 0 = the fixed prompt plus 128 slot tokens."})
    trt_max_new_tokens: int = field(default=256, metadata={"help": "TensorRT profile: longest rationale the decoder step engine serves."})
    trt_workspace_mb: int = field(default=4096, metadata={"help": "TensorRT builder workspace memory pool limit in MiB."})
    overwrite: bool = field(default=False, metadata={"help": "Replace an existing export folder (the old one stays intact until the new one is complete)."})
    threads: int = field(default=0, metadata={"help": "torch / onnxruntime intra-op threads during the export; 0 = library default."})
    seed: int = field(default=0, metadata={"help": "Seed for synthetic parity pairs."})

    def __post_init__(self):
        if self.opset < 17:
            raise ValueError(f"opset {self.opset} is too old; use 17 or newer")
        if not 0 <= self.margin < 0.5:
            raise ValueError(f"margin {self.margin} must be in [0, 0.5)")
        for name in ("fp32_agreement", "int8_agreement"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} {getattr(self, name)} must be a fraction in [0, 1]")
        for name in ("calib_pairs", "calib_memory_mb", "batch_size", "probe_pairs", "trt_max_rows", "trt_max_images", "trt_max_new_tokens", "trt_workspace_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.min_decisive < 1:
            raise ValueError("min_decisive must be at least 1")
        for name in ("fp32_max_dp", "int8_max_dp", "int8_max_rel_err"):
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

    @staticmethod
    def help(name: str) -> str:
        return ExportConfig.__dataclass_fields__[name].metadata["help"]
