"""Sampling completions in batches: transformers ``generate`` (default) or vLLM (GPU).

Shared by teacher labelling (K rationales per pair and order) and annotation (one per request).
A row is (first image, second image, query, title), already in the order the model sees;
``generate(rows)`` returns K completion texts per row, with special tokens removed. The judge
prompt is the default; ``messages`` gives each row another user turn (``c4u data annotate``).
"""

from __future__ import annotations

from creative4u_small.contract.images import open_image
from creative4u_small.modeling.judge_prompt import chat_text, prompt_chat_text


class TransformersGenerator:
    """Batched sampling with left padding; every row's K samples come from one ``generate`` call."""

    def __init__(self, model, processor, k: int, temperature: float, max_new_tokens: int):
        self.model, self.processor = model, processor
        self.k, self.temperature, self.max_new_tokens = k, temperature, max_new_tokens
        processor.tokenizer.padding_side = "left"

    def generate(self, rows, seed: int, messages=None) -> list[list[str]]:
        import torch

        tok = self.processor.tokenizer
        texts = _prompts(self.processor, rows, messages)
        images = [[open_image(a), open_image(b)] for a, b, _, _ in rows]
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self.model.device)
        sample = self.temperature > 0
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                do_sample=sample,
                temperature=self.temperature if sample else None,
                top_p=None, top_k=None,
                num_return_sequences=self.k,
                max_new_tokens=self.max_new_tokens,
                eos_token_id=tok.convert_tokens_to_ids(tok.eos_token) if tok.eos_token else None,
                pad_token_id=tok.pad_token_id,
            )
        decoded = tok.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return [decoded[i * self.k: (i + 1) * self.k] for i in range(len(rows))]


class VLLMGenerator:
    """vLLM offline inference (``pip install creative4u-small[vllm]``, NVIDIA GPU)."""

    def __init__(self, teacher: str, k: int, temperature: float, max_new_tokens: int, processor):
        try:
            from vllm import LLM
        except ImportError as e:
            raise ImportError("the vllm backend needs vLLM on a GPU box: pip install 'creative4u-small[vllm]'; or use --backend transformers") from e
        self.processor = processor
        self.llm = LLM(model=str(teacher), limit_mm_per_prompt={"image": 2})
        self.k, self.temperature, self.max_new_tokens = k, temperature, max_new_tokens

    def generate(self, rows, seed: int, messages=None) -> list[list[str]]:
        from vllm import SamplingParams

        params = SamplingParams(n=self.k, temperature=self.temperature, max_tokens=self.max_new_tokens, seed=seed, skip_special_tokens=True)
        requests = [
            {"prompt": text, "multi_modal_data": {"image": [open_image(a), open_image(b)]}}
            for (a, b, _, _), text in zip(rows, _prompts(self.processor, rows, messages))
        ]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        return [[o.text for o in out.outputs] for out in outputs]


def _prompts(processor, rows, messages=None) -> list[str]:
    """Each row's rendered prompt: the judge prompt, or the row's own user turn from ``messages``."""
    if messages is None:
        return [prompt_chat_text(processor, q, t) for _, _, q, t in rows]
    if len(messages) != len(rows):
        raise ValueError(f"{len(messages)} message lists for {len(rows)} rows")
    return [chat_text(processor, m) for m in messages]


def torch_device(name: str) -> str:
    """``name``, or for '' the GPU when there is one (else the CPU)."""
    if name:
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
