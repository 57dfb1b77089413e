"""Settings of rationale annotation (``c4u data annotate``)."""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract.settings import setting

BACKENDS = ("auto", "transformers", "vllm", "endpoint")
PROMPTS = ("annotate", "teacher")
ORDERS = ("AB", "BA", "both")


def is_url(annotator: str) -> bool:
    return annotator.startswith(("http://", "https://"))


@dataclass(frozen=True)
class AnnotateConfig:
    """A strong MLLM writes teacher-format rationales for labelled pairs; the strict parser filters them."""
    FLAGS = {"resume": "--resume/--no-resume"}  # command-line spellings other than --field-name

    pairs: str = setting(help="Labelled CreativePair JSONL (e.g. from `c4u data pairs --from-ctr`); every pair needs a label.")
    out: str = setting(help="Annotated JSONL (the pairs with a `rationale` and an `annotation` record), appended pair by pair; a rerun resumes it. Rejected pairs go to <out stem>.rejects.jsonl beside it.")
    annotator: str = setting(help="A local teacher checkpoint folder (transformers or vLLM) or the base URL of an OpenAI-compatible endpoint (http://host:port/v1).")
    backend: str = setting(help="'auto' (endpoint for a URL, transformers for a folder), 'transformers', 'vllm' (GPU, optional extra) or 'endpoint'.", default="auto")
    prompt: str = setting(help="'annotate': the rationalisation prompt, told which creative won, format spelled out; 'teacher': the plain judge prompt (rejection sampling, for a teacher trained on it).", default="annotate")
    orders: str = setting(help="Image orders to annotate: 'AB', 'BA' or 'both' (a pair is kept only when every order is accepted).", default="AB")
    retries: int = setting(help="New samples for an output the filter rejects, per pair and order (K); what is still rejected goes to the rejects file.", default=2)
    temperature: float = setting(help="Sampling temperature (retries need > 0 to differ).", default=0.7)
    max_new_tokens: int = setting(help="Most tokens per rationale.", default=512)
    batch_size: int = setting(help="Pairs per round; a round's records are written (fsynced) before the next starts.", default=8)
    device: str = setting(help="torch device for a local annotator ('' picks cuda when present).", default="")
    seed: int = setting(help="Sampling seed (each round and retry is seeded from it, the pair ids and the attempt).", default=0)
    endpoint_model: str = setting(help="Model name the endpoint serves ('' takes the first of its /v1/models).", default="")
    api_key_env: str = setting(help="Environment variable holding the endpoint's API key (unset: no key is sent).", default="OPENAI_API_KEY")
    concurrency: int = setting(help="Requests in flight at once to the endpoint.", default=4)
    timeout: float = setting(help="Seconds before one endpoint request times out.", default=120.0)
    http_retries: int = setting(help="Retries of one endpoint request on 408/409/429/5xx and connection errors, with exponential backoff (honours Retry-After); then the run stops.", default=4)
    resume: bool = setting(help="Skip pairs already in --out or its rejects file (default); --no-resume refuses an existing --out.", default=True)
    overwrite: bool = setting(help="Start --out and its rejects file afresh.", default=False)

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.prompt not in PROMPTS:
            raise ValueError(f"prompt must be one of {PROMPTS}, got {self.prompt!r}")
        if self.orders not in ORDERS:
            raise ValueError(f"orders must be one of {ORDERS}, got {self.orders!r}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        for name in ("max_new_tokens", "batch_size", "concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.http_retries < 0:
            raise ValueError(f"http_retries must be >= 0, got {self.http_retries}")
        if self.resume and self.overwrite:
            raise ValueError("--overwrite discards --out; pass --no-resume with it")
        if not self.annotator:
            raise ValueError("--annotator is empty; give a model folder or an http(s):// endpoint URL")
        if self.resolved_backend == "endpoint" and not is_url(self.annotator):
            raise ValueError(f"the endpoint backend needs an http(s):// URL for --annotator, got {self.annotator!r}")
        if self.resolved_backend != "endpoint" and is_url(self.annotator):
            raise ValueError(f"--annotator {self.annotator} is a URL; use --backend endpoint (or auto)")

    @property
    def resolved_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        return "endpoint" if is_url(self.annotator) else "transformers"

    @property
    def order_list(self) -> tuple[str, ...]:
        return ("AB", "BA") if self.orders == "both" else (self.orders,)
