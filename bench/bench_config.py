"""The resolved configuration of one `c4u bench` run (written into its JSON report); the benchmark scripts build it too."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from creative4u_small.contract.settings import setting
from creative4u_small.runtime.engines import BACKENDS
from creative4u_small.runtime.selector_config import EXPORT_HELP, PRECISION_CHOICES

BASELINES = ("", "transformers")


@dataclass(frozen=True)
class BenchConfig:
    FLAGS = {"json_out": "--json"}  # command-line spellings other than --field-name
    export: Path = setting(help=EXPORT_HELP)
    pairs: Path | None = setting(None, "CreativePair JSONL whose images and queries make the workload; synthetic creatives at the export's frame size when absent.")
    backends: tuple[str, ...] = setting(("cpu",), f"Backends to measure side by side ({', '.join(BACKENDS)}, or auto: what Selector.load picks, and why); unavailable ones are reported as skipped with the reason.")
    precisions: tuple[str, ...] = setting(("fp32", "int8"), "Graph precisions to measure; int8 is skipped (with the reason) when the export has no INT8 graphs.")
    baseline: str = setting("", "'transformers' also measures the plain PyTorch model (generate with a teacher-style rationale, and the single-pass VerdictScorer) as the baseline; needs --model.")
    model: Path | None = setting(None, "Hugging Face model folder for the transformers baseline (the model the export was made from).")
    runs: int = setting(10, "Timed compares per backend for the latency percentiles (warm-up runs excluded).")
    warmup: int = setting(2, "Untimed runs before each measurement (session set-up, allocator and cache warm-up).")
    batch_sizes: tuple[int, ...] = setting((1, 8, 32), "Pairs per compare_many call for the pairs-per-second figures.")
    rank_sizes: tuple[int, ...] = setting((8, 16, 32), "Pool sizes N for the rank timings.")
    baseline_rank_max: int = setting(16, "Largest pool ranked by the baseline (every ordered pair through the scorer grows as N^2).")
    generate_tokens: int = setting(128, "Rationale tokens for the explain timing and the transformers generate baseline (min_new_tokens equal, so both decode exactly this many).")
    explain_runs: int = setting(3, "Timed explain compares and baseline generate calls (each decodes generate_tokens tokens).")
    threads: int = setting(0, "ONNX Runtime intra-op threads (0 = its default); the baseline uses torch's default.")
    json_out: Path | None = setting(None, "Write the full report here as JSON (machine, versions, config, figures, ratios).")
    plot: Path | None = setting(None, "Write a PNG chart here (needs matplotlib: pip install 'creative4u-small[plot]').")
    seed: int = setting(0, "Seed for the synthetic workload.")

    def __post_init__(self):
        for b in self.backends:
            if b not in BACKENDS + ("auto",):
                raise ValueError(f"backend {b!r} is not one of {', '.join(BACKENDS)}")
        if not self.backends:
            raise ValueError("give at least one backend")
        for p in self.precisions:
            if p not in PRECISION_CHOICES:
                raise ValueError(f"precision {p!r} is not one of {', '.join(PRECISION_CHOICES)}")
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline {self.baseline!r} is not one of: transformers (or empty for none)")
        if self.baseline and self.model is None:
            raise ValueError("--baseline transformers needs --model (the Hugging Face model folder the export came from)")
        for name in ("runs", "explain_runs", "generate_tokens"):
            if getattr(self, name) < 0 or (name == "runs" and self.runs < 1):
                raise ValueError(f"{name} must be {'at least 1' if name == 'runs' else '0 or more'}, got {getattr(self, name)}")
        if self.warmup < 0 or self.threads < 0 or self.baseline_rank_max < 0:
            raise ValueError("warmup, threads and baseline_rank_max must be 0 or more")
        if any(b < 1 for b in self.batch_sizes) or any(n < 2 for n in self.rank_sizes):
            raise ValueError("batch sizes must be at least 1 and rank sizes at least 2")

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
