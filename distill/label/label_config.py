"""Settings of teacher labelling (``c4u label``)."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract.settings import setting

BACKENDS = ("transformers", "vllm")
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class LabelConfig:
    """K sampled rationales per pair and order, the teacher's answer probability after each."""
    FLAGS = {"resume": "--resume/--no-resume"}  # command-line spellings other than --field-name

    teacher: str = setting(help="Teacher model folder (output of `c4u teacher sft` / `grpo`).")
    pairs: str = setting(help="CreativePair JSONL to label (labels optional; used to pick the kept rationale).")
    out: str = setting(help="Labelled JSONL, appended pair by pair; a rerun resumes it.")
    k: int = setting(help=
        "Rationales sampled per pair and image order. 0 samples none: the answer is read after an "
        "empty <think>\\n</think>, so no rationale is kept.",
        default=4,
    )
    temperature: float = setting(help="Sampling temperature (0 = greedy; then K > 1 repeats one rationale).", default=0.8)
    max_new_tokens: int = setting(help="Most tokens per sampled rationale; one cut short is closed with </think> and never kept.", default=256)
    batch_size: int = setting(help="Pairs per generation batch (each gives 2 orders × K sequences).", default=8)
    backend: str = setting(help="Generation backend: 'transformers' (default, CPU or GPU) or 'vllm' (GPU, optional extra).", default="transformers")
    device: str = setting(help="torch device for the transformers backend and scoring ('' picks cuda when present).", default="")
    seed: int = setting(help="Sampling seed (each batch is seeded from it and its pair ids).", default=0)
    engine: str = setting(help="local: this process; ray: --workers Ray actors, each holding one teacher copy (one vLLM engine "
                               "per GPU with --backend vllm --gpus-per-worker 1), on --ray-address or a local Ray. The same "
                               "batches and seeds, so the same labels.", default="local")
    workers: int = setting(help="Teacher copies (Ray actors) with --engine ray.", default=2)
    ray_address: str = setting(help="An existing Ray cluster for --engine ray (host:port of its head); empty starts a local Ray.", default="")
    gpus_per_worker: float = setting(help="GPUs each Ray actor reserves with --engine ray (1: one teacher per GPU).", default=0.0)
    cpus_per_worker: float = setting(help="CPUs each Ray actor reserves with --engine ray (torch uses as many threads).", default=1.0)
    max_retries: int = setting(help="Times a batch is sent again after its Ray worker died, before the job stops.", default=3)
    resume: bool = setting(help="Skip pairs already in --out (default); --no-resume refuses an existing --out.", default=True)
    overwrite: bool = setting(help="Start --out afresh, discarding its records.", default=False)

    def __post_init__(self):
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.gpus_per_worker < 0 or self.cpus_per_worker <= 0 or self.max_retries < 0:
            raise ValueError("gpus_per_worker and max_retries must be 0 or more, cpus_per_worker above 0")
        if self.ray_address and self.engine != "ray":
            raise ValueError("--ray-address needs --engine ray")
        if self.resume and self.overwrite:
            raise ValueError("--overwrite discards --out; pass --no-resume with it")
