"""One small interface for every annotator: a batch of requests in, one completion text per request out.

A request is one pair in one image order with the winner in that order; ``messages()`` is its
user turn (``protocol.annotation_messages`` or the plain judge prompt). Implementations, one
module each: ``annotator_local`` (transformers), ``annotator_vllm`` (vLLM offline) and
``annotator_endpoint`` (an OpenAI-compatible chat endpoint through the ``openai`` client).
An annotator raises, rather than returns text, when it cannot answer at all; the run then stops
with nothing of the round written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from creative4u_small.contract import protocol


@dataclass(frozen=True)
class Request:
    pair_id: str
    order: str  # "AB" or "BA": which creative is shown first
    first: Path
    second: Path
    query: str
    title: str
    winner: str  # the label in the order shown
    prompt: str = "annotate"

    def messages(self) -> list[dict]:
        if self.prompt == "annotate":
            return protocol.annotation_messages(self.query, self.title, self.winner)
        return protocol.prompt_messages(self.query, self.title)

    @property
    def row(self) -> tuple:
        """The (first image, second image, query, title) row of ``distill.sampling``."""
        return (self.first, self.second, self.query, self.title)


class Annotator(Protocol):
    name: str

    def complete(self, requests: list[Request], seed: int) -> list[str]:
        """One sampled completion per request, in request order."""

    def stats(self) -> dict:
        """Counters worth reporting (e.g. HTTP retries); empty when there are none."""


class GeneratorAnnotator:
    """An annotator over one of ``c4u label``'s samplers (``self.generator``): one sample per request."""

    generator: object
    name: str

    def complete(self, requests: list[Request], seed: int) -> list[str]:
        texts = self.generator.generate([r.row for r in requests], seed, messages=[r.messages() for r in requests])
        return [t[0] for t in texts]

    def stats(self) -> dict:
        return {}


def make_annotator(config, warn=print) -> Annotator:
    backend = config.resolved_backend
    # each backend module imports this one (Request), so they are imported here, after it has loaded
    if backend == "endpoint":
        from creative4u_small.distill.annotate.annotator_endpoint import EndpointAnnotator

        return EndpointAnnotator(config, warn=warn)
    if backend == "vllm":
        from creative4u_small.distill.annotate.annotator_vllm import VLLMAnnotator

        return VLLMAnnotator(config)
    from creative4u_small.distill.annotate.annotator_local import LocalAnnotator

    return LocalAnnotator(config)
