"""The configuration of one ``c4u serve`` process: where to listen, what to load, how to batch, what to refuse."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from creative4u_small.settings import help_of, setting

from creative4u_small.images import DEFAULT_MAX_PIXELS
from creative4u_small.runtime.selector_config import PRECISION_CHOICES, SelectorConfig


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeConfig:
    export: Path = setting(Path("."), "Export folder written by `c4u export`.")
    host: str = setting("127.0.0.1", "Address to listen on; 0.0.0.0 to accept other machines (then set --api-key-env).")
    port: int = setting(8080, "TCP port to listen on.")
    backend: str = setting("auto", "Selector backend: auto (best available, reported at /v1/model) or cpu, cuda, trt-ep, tensorrt, openvino.")
    device: str = setting("CPU", help_of(SelectorConfig, "device"))
    precision: str = setting("auto", help_of(SelectorConfig, "precision"))
    threads: int = setting(0, "ONNX Runtime intra-op threads per graph and lane; 0 lets ONNX Runtime decide (with --lanes above 1: the cores shared over the lanes).")
    lanes: int = setting(1, "Batches run at once, each on its own worker thread; with one lane per core, compares run side by side instead of splitting every op across the cores (README, 'Serve it').")
    widen: bool = setting(True, "With --lanes above 1 on the CPU backend, a batch that runs alone (nothing queued or running) takes every lane's threads, on a second set of sessions (more memory): a lone request as fast as with one lane.")
    max_batch: int = setting(8, "Most compare pairs gathered from concurrent requests into one Selector.compare_many call; 1 turns micro-batching off (as it is with --lanes above 1 on dynamic INT8 graphs, which run pair by pair).")
    max_wait_ms: float = setting(5.0, "Longest a compare waits for other requests already being received to join its batch; a lone request never waits.")
    max_queue: int = setting(64, "Most compare and rank requests admitted (queued or running); beyond it the answer is 503 with Retry-After.")
    max_body_mb: float = setting(32.0, "Largest request body in MiB; larger bodies get 413 before they are read.")
    max_pixels: int = setting(DEFAULT_MAX_PIXELS, "Refuse an image above this many pixels before decoding it (decompression bombs).")
    max_rank_images: int = setting(64, "Most images one /v1/rank request may send (its pool size).")
    max_text_chars: int = setting(2000, "Longest query or title, in characters.")
    cache_images: int = setting(4096, "Image embeddings the Selector keeps in memory, keyed by content hash (its only state).")
    api_key_env: str = setting("", "Name of an environment variable holding a bearer token that /v1/* requests must send; empty = no token.")
    retry_after_s: int = setting(1, "Seconds suggested in Retry-After when the queue is full or the model is still warming up.")
    graceful_timeout_s: float = setting(30.0, "On SIGTERM/SIGINT, how long to let in-flight requests finish before closing.")
    log_level: str = setting("info", "Log level of the JSON request log on stderr: debug, info, warning, error.")

    def __post_init__(self):
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if self.precision not in PRECISION_CHOICES:
            raise ValueError(f"precision {self.precision!r} is not one of {', '.join(PRECISION_CHOICES)}")
        for name in ("lanes", "max_batch", "max_queue", "max_rank_images", "max_text_chars", "cache_images", "retry_after_s"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("threads", "max_wait_ms", "max_pixels", "graceful_timeout_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if self.max_body_mb <= 0:
            raise ValueError(f"max_body_mb must be above 0, got {self.max_body_mb}")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ValueError(f"log_level {self.log_level!r} is not debug, info, warning or error")
        if self.api_key_env and not self.api_key_env.replace("_", "").isalnum():
            raise ValueError(f"api_key_env {self.api_key_env!r} is not an environment variable name (letters, digits, _)")

    @property
    def lane_threads(self) -> int:
        """Intra-op threads of one lane: --threads, or with several lanes and --threads 0 the cores shared over them."""
        if self.threads or self.lanes == 1:
            return self.threads
        return max(1, usable_cores() // self.lanes)

    @property
    def wide_threads(self) -> int:
        """Intra-op threads of a batch that runs alone across every lane; 0 when it does not widen."""
        return self.lane_threads * self.lanes if self.widen and self.lanes > 1 else 0

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["export"] = str(self.export)
        return d
