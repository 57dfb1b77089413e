"""The configuration of one ``c4u batch`` job: what to read and write, which engine, how many model copies."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from creative4u_small.contract.settings import setting
from creative4u_small.runtime.selector_config import EXPORT_HELP, SelectorConfig

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class BatchConfig:
    FLAGS = {"resume": "--resume/--no-resume"}  # command-line spellings other than --field-name
    export: Path = setting(Path("."), EXPORT_HELP)
    groups: str = setting("", "Groups to answer: JSONL or Parquet rows {id, query, title, images (paths relative to the file), "
                              "top_k?}; CreativePair rows (image_a, image_b) are groups of two. A path or a URI pyarrow reads (s3://, gs://, hdfs://).")
    out: str = setting("", "Output rows {id, ranking, scores[, winner, p_a][, rationale]}: JSONL, or Parquet by its suffix "
                           "(.parquet). A rerun skips the ids already there; refused rows go to OUT.rejects.jsonl.")
    engine: str = setting("local", "local: this process, or --workers processes on this machine (no Ray needed); "
                                    "ray: Ray Data over a cluster (--ray-address) or a local Ray started and stopped for the job.")
    workers: int = setting(1, "Model copies: processes (local) or Ray actors (ray), each loading one Selector once.")
    selector: SelectorConfig = setting(help="The Selector each worker loads (backend, precision, threads, pixel cap, text budget); "
                                            "--threads is per worker: about cores per node / workers per node.", default_factory=SelectorConfig)
    gpus_per_worker: float = setting(0.0, "GPUs each Ray actor reserves (1 on a GPU node: one model copy per GPU; fractions share one).")
    cpus_per_worker: float = setting(0.0, "CPUs each Ray actor reserves; 0 = --threads (1 when --threads is 0). "
                                          "Fractions let more actors share a node's CPUs.")
    ray_address: str = setting("", "An existing Ray cluster (host:port of its head's GCS, as `ray start --head` prints it); empty starts a local Ray for this job.")
    groups_per_batch: int = setting(4, "Groups a worker takes at a time: what a dead worker's retry repeats, and how often rows are written.")
    max_retries: int = setting(3, "Times a batch is sent again after its worker died (a killed process, a lost node) before the job stops.")
    explain: bool = setting(False, "Add the winner's rationale (against the runner-up in a pool): decoder graphs, greedy.")
    max_image_mb: float = setting(50.0, "Refuse (to the rejects file) an image file larger than this many MiB before reading it.")
    resume: bool = setting(True, "Skip the ids already in --out (default); --no-resume refuses an existing --out.")
    overwrite: bool = setting(False, "Start --out afresh, discarding its rows (with --no-resume).")

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r} is not one of {', '.join(ENGINES)}")
        for name in ("workers", "groups_per_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("gpus_per_worker", "cpus_per_worker", "max_retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if self.max_image_mb <= 0:
            raise ValueError(f"max_image_mb must be above 0, got {self.max_image_mb}")
        if self.ray_address and self.engine != "ray":
            raise ValueError("--ray-address needs --engine ray")
        if self.resume and self.overwrite:
            raise ValueError("--overwrite discards --out; pass --no-resume with it")

    @property
    def cpus_per_actor(self) -> float:
        return self.cpus_per_worker or float(max(self.selector.threads, 1))

    @property
    def rejects_path(self) -> Path:
        return Path(self.out).with_name(Path(self.out).name + ".rejects.jsonl")

    def to_dict(self) -> dict:
        return {**asdict(self), "export": str(self.export)}

    @classmethod
    def from_dict(cls, d: dict) -> "BatchConfig":
        """The config ``to_dict`` wrote (a worker process rebuilds its job's this way)."""
        return cls(**{**d, "export": Path(d["export"]), "selector": SelectorConfig(**d["selector"])})

