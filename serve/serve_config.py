"""The configuration of one ``c4u serve`` process: where to listen, what to load, how to batch, what to refuse."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from creative4u_small.contract.settings import setting
from creative4u_small.runtime.selector_config import EXPORT_HELP, SelectorConfig


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeConfig:
    FLAGS = {"retry_after_s": "--retry-after", "graceful_timeout_s": "--graceful-timeout", "ui": "--ui/--no-ui"}  # command-line spellings other than --field-name
    export: Path = setting(Path("."), EXPORT_HELP)
    host: str = setting("127.0.0.1", "Address to listen on; 0.0.0.0 to accept other machines (then set --api-key-env).")
    port: int = setting(8080, "TCP port to listen on.")
    selector: SelectorConfig = setting(help="The Selector each worker loads (backend, device, precision, threads, pixel cap, cache); "
                                            "--threads: with --workers N, about cores / N.", default_factory=SelectorConfig)
    workers: int = setting(1, "Server processes (uvicorn workers) sharing the port, each loading its own Selector: more requests at once where cores allow, one model's memory per worker.")
    max_batch: int = setting(8, "Most compare pairs gathered from concurrent requests into one Selector.compare_many call; 1 turns micro-batching off.")
    max_wait_ms: float = setting(5.0, "Longest a compare waits for other compares still being received to join its batch; a lone request never waits.")
    max_queue: int = setting(64, "Most compare and rank requests admitted (queued or running), counted once their body is read and decoded; beyond it 503 with Retry-After.")
    max_reading: int = setting(32, "Most requests whose body is arriving or whose images are decoding at once (they hold no queue slot). One more waits "
                                   "within --body-grace-s: once its own body arrives at --min-body-rate it takes the slot of the reader furthest behind that "
                                   "rate (which gets 408); else 503 with Retry-After (408 if its own body is behind).")
    body_timeout_s: float = setting(30.0, "Longest a request may take to send its body, however fast it arrives; then 408 and the connection is closed.")
    body_grace_s: float = setting(5.0, "Seconds a request body may take to start arriving before --min-body-rate applies.")
    min_body_rate: float = setting(32.0, "Slowest average rate, in KiB/s, at which a request body may arrive after --body-grace-s (bytes counted as they "
                                         "reach the server); a slower one gets 408 and its connection is closed.")
    header_timeout_s: float = setting(10.0, "Longest a connection may take to send a request's line and headers, counted from accept and from the end of each "
                                            "answer; a connection that sent nothing is then closed, one that sent part of a head gets 408.")
    max_connections: int = setting(0, "Most open client connections of one server process; beyond it the connection idle longest (no request in progress) "
                                      "is closed, or, with none idle, the new one gets 503. 0 = the open-files limit (ulimit -n) less 256.")
    max_body_mb: float = setting(32.0, "Largest multipart request body in MiB (a JSON body carries its images as base64: 4/3 of this, plus its text fields); "
                                       "larger bodies get 413 before they are read.")
    max_request_pixels: int = setting(256_000_000, "Most pixels one request's images may decode to, summed, read from their headers before any is decoded (413 beyond it); 0 = no budget.")
    max_rank_images: int = setting(64, "Most images one /v1/rank request may send (its pool size).")
    max_text_chars: int = setting(2000, "Longest query or title, in characters.")
    api_key_env: str = setting("", "Name of an environment variable holding a bearer token that /v1/* requests must send; empty = no token.")
    retry_after_s: int = setting(1, "Seconds suggested in Retry-After when the queue is full or the model is still warming up.")
    graceful_timeout_s: float = setting(30.0, "On SIGTERM/SIGINT, how long to let in-flight requests finish before closing.")
    ui: bool = setting(True, "Serve the page for creative teams at / (rank and explain creatives in a browser, through the same /v1 endpoints); --no-ui leaves only the API.")
    log_level: str = setting("info", "Log level of the JSON request log on stderr: debug, info, warning, error.")

    def __post_init__(self):
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        for name in ("workers", "max_batch", "max_queue", "max_reading", "max_rank_images", "max_text_chars", "retry_after_s"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_wait_ms", "max_request_pixels", "graceful_timeout_s", "body_grace_s", "max_connections"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("max_body_mb", "body_timeout_s", "min_body_rate", "header_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be above 0, got {getattr(self, name)}")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ValueError(f"log_level {self.log_level!r} is not debug, info, warning or error")
        if self.api_key_env and not self.api_key_env.replace("_", "").isalnum():
            raise ValueError(f"api_key_env {self.api_key_env!r} is not an environment variable name (letters, digits, _)")

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["export"] = str(self.export)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ServeConfig":
        """The config ``to_dict`` wrote (a worker process reads its server's this way)."""
        return cls(**{**d, "export": Path(d["export"]), "selector": SelectorConfig(**d["selector"])})
