"""A local teacher checkpoint as annotator, through transformers ``generate`` on CPU or GPU.

Reuses the labelling sampler (``label_generate.TransformersGenerator``): left-padded batches,
one sample per request, seeded per call, with the annotation prompt as each row's user turn.
"""

from __future__ import annotations

from pathlib import Path

from creative4u_small.distill.annotator import GeneratorAnnotator


class LocalAnnotator(GeneratorAnnotator):
    def __init__(self, config):
        from creative4u_small.checkpoint import load_model
        from creative4u_small.distill.label_generate import TransformersGenerator

        device = config.device or _default_device()
        model, processor, _ = load_model(config.annotator, device=device, verdict=False)
        self.generator = TransformersGenerator(model, processor, 1, config.temperature, config.max_new_tokens)
        self.name = Path(config.annotator).name or str(config.annotator)



def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
