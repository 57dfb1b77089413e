"""The resolved configuration of a ``Selector`` (backend, precision, batching, limits, schedule)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from creative4u_small.contract.images import DEFAULT_MAX_PIXELS
from creative4u_small.contract.settings import setting
from creative4u_small.runtime.engines import BACKENDS
from creative4u_small.runtime.engines.openvino_engine import DEVICES

EXPORT_HELP = "Export folder written by `c4u export`."
PRECISION_CHOICES = ("auto", "fp32", "fp16", "bf16", "int8")
PROBE_FAILURE_CHOICES = ("fallback", "raise")


@dataclass(frozen=True)
class SelectorConfig:
    FLAGS = {"probe": "--probe/--no-probe", "screen_one_order": "--screen-one-order/--screen-both-orders",
             "prefix_reuse": "--prefix-reuse/--no-prefix-reuse"}  # command-line spellings other than --field-name
    backend: str = setting("auto", f"Where the graphs run: auto (best available, reported) or one of {', '.join(BACKENDS)}.")
    precision: str = setting("auto", "auto (on a GPU: FP16 where the export has it and its parity did not fail; else INT8 where the export's INT8 parity passed, else fp32; says which), fp32, fp16, bf16 (openvino backend: OpenVINO's bf16 inference precision hint on the fp32 IR, where the device has BF16) or int8 (each graph without that variant stays fp32). FP16 and INT8 graphs that fail the load-time probe fall back to fp32.")
    threads: int = setting(0, "ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime decide.")
    batch_size: int = setting(16, "Most pairs per judge call (each pair is two rows, one per order) and images per vision call.")
    max_pixels: int = setting(DEFAULT_MAX_PIXELS, "Refuse images above this many pixels before decoding them (decompression bombs); 0 disables the cap.")
    strict_text: bool = setting(False, "Refuse a query or title longer than the export's token budget (TextBudgetError) instead of truncating it at a token boundary; results name what was cut either way.")
    max_new_tokens: int = setting(256, "Longest rationale, in generated tokens after the verdict, when explain is asked.")
    cache_images: int = setting(4096, "Image embeddings kept in memory, keyed by content hash (least recently used go first).")
    round_robin_max: int = setting(12, "Rank pools up to this size with a full round robin; larger pools play Swiss rounds, then challenge rounds among the leaders.")
    swiss_rounds: int = setting(0, "Swiss rounds that sort a large pool before the challenge rounds; 0 = ceil(log2(n) / 2) + 1.")
    screen_one_order: bool = setting(False, "Judge Swiss-round games in one image order (alternating who goes first): half their rows, a noisier screen; round robins always use both orders.")
    finalists: int = setting(0, "Items challenged per round after the Swiss rounds in large pools (those least sure of their side of the top_k cut); 0 = max(4, top_k - 1).")
    rank_budget: int = setting(0, "Most comparisons when ranking a large pool; 0 = 1.5 * n * log2(n).")
    prefix_reuse: bool = setting(True, "Judge with prefix reuse: the prompt's shared head once per call, [head, image A] once per first creative, then only each comparison's remaining tokens (the export's judge_extend graph); off: every comparison runs its full prompt.")
    probe: bool = setting(True, "Replay the export's parity probe at load on this machine and backend, and refuse graphs that drift past the export's floors.")
    on_probe_failure: str = setting("fallback", "When INT8 graphs fail the probe: fallback (use fp32 and say why) or raise. fp32 graphs that fail always raise.")
    verify_hashes: bool = setting(True, "Check every export file's sha256 against the manifest at load (refuses tampered or corrupt graphs).")
    device_id: int = setting(0, "GPU index for the cuda, trt-ep and tensorrt backends.")
    device: str = setting("CPU", f"OpenVINO device for the openvino backend: {', '.join(DEVICES)} (GPU and NPU are Intel's); reported by describe().")

    def __post_init__(self):
        if self.backend != "auto" and self.backend not in BACKENDS:
            raise ValueError(f"backend {self.backend!r} is not auto or one of {', '.join(BACKENDS)}")
        if self.precision not in PRECISION_CHOICES:
            raise ValueError(f"precision {self.precision!r} is not one of {', '.join(PRECISION_CHOICES)}")
        if self.device not in DEVICES:
            raise ValueError(f"device {self.device!r} is not one of {', '.join(DEVICES)}")
        if self.on_probe_failure not in PROBE_FAILURE_CHOICES:
            raise ValueError(f"on_probe_failure {self.on_probe_failure!r} is not one of {', '.join(PROBE_FAILURE_CHOICES)}")
        for name in ("batch_size", "max_new_tokens", "cache_images", "round_robin_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("threads", "max_pixels", "swiss_rounds", "finalists", "rank_budget", "device_id"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)
