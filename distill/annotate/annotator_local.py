"""A local teacher checkpoint as annotator, through transformers ``generate`` on CPU or GPU.

Reuses the labelling sampler (``sampling.TransformersGenerator``): left-padded batches,
one sample per request, seeded per call, with the annotation prompt as each row's user turn.
"""

from __future__ import annotations

from pathlib import Path

from creative4u_small.distill.annotate.annotator import GeneratorAnnotator
from creative4u_small.distill.sampling import TransformersGenerator, torch_device
from creative4u_small.modeling.checkpoint import load_model


class LocalAnnotator(GeneratorAnnotator):
    def __init__(self, config):
        model, processor, _ = load_model(config.annotator, device=torch_device(config.device), verdict=False)
        self.generator = TransformersGenerator(model, processor, 1, config.temperature, config.max_new_tokens)
        self.name = Path(config.annotator).name or str(config.annotator)
