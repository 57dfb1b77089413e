"""A local checkpoint as annotator through vLLM offline inference (GPU boxes, ``[vllm]`` extra).

Reuses the labelling sampler (``sampling.VLLMGenerator``): ``LLM(model, limit_mm_per_prompt=
{"image": 2})`` and ``LLM.generate`` with the chat-rendered prompt and both images as
``multi_modal_data``; vLLM is imported only when this annotator is built.
"""

from __future__ import annotations

from pathlib import Path

from creative4u_small.distill.annotate.annotator import GeneratorAnnotator
from creative4u_small.distill.sampling import VLLMGenerator


class VLLMAnnotator(GeneratorAnnotator):
    def __init__(self, config):
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(str(config.annotator))
        self.generator = VLLMGenerator(config.annotator, 1, config.temperature, config.max_new_tokens, processor)
        self.name = Path(config.annotator).name or str(config.annotator)
