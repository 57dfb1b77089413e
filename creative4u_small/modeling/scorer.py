"""The verdict scorer: one prefill over prompt + ``<answer>``, two verdict logits at the last position.

Shared by teacher labelling, distillation, evaluation and the export parity check; it is the
PyTorch reference the exported graphs are compared against. Rows are pairs × orders, left
padded. Two paths, chosen by the model family (``families.py``):

- framed families (Idefics3, SmolVLM2): position ids from the attention mask, so padding never
  changes a row's result; each distinct image is encoded once per batch and placed into every row
  that shows it (``build_judge_batch`` + ``verdict_logits``, differentiable, what the exporter
  splits into graphs);
- every other family (Qwen2.5-VL, Qwen3-VL, generic): the processor builds the inputs from text and
  images, the model's own forward places image features and numbers positions (3-D M-RoPE for
  Qwen), and the verdict logits are read at the last position (``processor_verdict_logits``).
"""

from __future__ import annotations

from dataclasses import dataclass

from creative4u_small.contract import protocol
from creative4u_small.contract.images import open_image
from creative4u_small.modeling import families
from creative4u_small.modeling.judge_prompt import expand_images, framed_family, judge_text, prompt_chat_text

ORDERS = ("AB", "BA")


@dataclass
class JudgeBatch:
    input_ids: "object"
    attention_mask: "object"
    position_ids: "object"
    pixel_values: "object"  # [U, 3, H, W], one row per distinct image
    pixel_attention_mask: "object"  # [U, H, W]
    image_index: "object"  # [R, 2]: distinct-image row shown as Creative A and Creative B
    orders: tuple[str, ...]


def preprocess_images(processor, images: list):
    """Pixel values [U, 3, H, W] and masks [U, H, W] for PIL images (unsplit, one frame each)."""
    out = processor.image_processor(images=[[im] for im in images], do_image_splitting=False, return_tensors="pt")
    pv = out["pixel_values"][:, 0]
    pm = out.get("pixel_attention_mask")
    pm = pm[:, 0].bool() if pm is not None else None
    return pv, pm


def clean_suffix(processor, text: str) -> str:
    """A generated suffix without image placeholders, so it cannot pose as image tokens."""
    for marker in {protocol.IMAGE_TOKEN, getattr(processor, "image_token", protocol.IMAGE_TOKEN)}:
        text = text.replace(marker, "")
    return text


def build_judge_batch(processor, items, orders=ORDERS, suffixes=None) -> JudgeBatch:
    """Framed families: ``items`` are (image_a, image_b, query, title); images as paths, bytes or PIL images.

    ``suffixes[i][j]`` (optional): text between item i's prompt and ``<answer>`` in ``orders[j]``,
    e.g. a teacher's own ``<think>…</think>``, so the verdict is read where the teacher answers.
    """
    import torch

    framed_family(processor)
    keys: dict = {}
    images = []
    index = []
    for a, b, _, _ in items:
        row = []
        for src in (a, b):
            key = src if isinstance(src, (str, bytes)) or hasattr(src, "__fspath__") else id(src)
            if key not in keys:
                keys[key] = len(images)
                images.append(open_image(src))
            row.append(keys[key])
        index.append(row)
    texts, image_index = [], []
    for n, ((_, _, query, title), (ia, ib)) in enumerate(zip(items, index)):
        text = processor.tokenizer(expand_images(processor, judge_text(processor, query, title)), add_special_tokens=False)["input_ids"]
        for j, order in enumerate(orders):
            if suffixes is not None:
                prefix = expand_images(processor, prompt_chat_text(processor, query, title))
                text = processor.tokenizer(prefix + clean_suffix(processor, suffixes[n][j]) + protocol.ANSWER_OPEN, add_special_tokens=False)["input_ids"]
            texts.append(text)
            image_index.append([ia, ib] if order == "AB" else [ib, ia])
    width = max(len(t) for t in texts)
    pad = processor.tokenizer.pad_token_id
    input_ids = torch.full((len(texts), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(texts), width), dtype=torch.long)
    for r, t in enumerate(texts):
        input_ids[r, width - len(t):] = torch.tensor(t)
        attention_mask[r, width - len(t):] = 1
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    pv, pm = preprocess_images(processor, images)
    return JudgeBatch(input_ids, attention_mask, position_ids, pv, pm, torch.tensor(image_index), tuple(orders))


def image_features(model, pixel_values, pixel_attention_mask=None):
    """Connector output per image: [U, image_seq_len, text_hidden]."""
    out = model.model.get_image_features(pixel_values[:, None], pixel_attention_mask[:, None] if pixel_attention_mask is not None else None)
    return torch_stack(out.pooler_output)


def torch_stack(features):
    import torch

    return torch.stack(list(features)) if isinstance(features, (list, tuple)) else features


def verdict_logits(model, batch: JudgeBatch, verdict_ids: tuple[int, int], features=None):
    """[R, 2] logits of (A, B) at the answer position; differentiable."""
    if features is None:
        features = image_features(model, batch.pixel_values, batch.pixel_attention_mask)
    embeds = model.get_input_embeddings()(batch.input_ids)
    image_id = model.config.image_token_id
    rows = features[batch.image_index].reshape(batch.input_ids.shape[0], -1, features.shape[-1])
    mask = batch.input_ids == image_id
    if int(mask.sum(-1).min()) != rows.shape[1] or int(mask.sum(-1).max()) != rows.shape[1]:
        raise ValueError("image token count in the prompt does not match the image features")
    embeds = embeds.masked_scatter(mask[..., None], rows.to(embeds.dtype))
    hidden = model.model.text_model(
        inputs_embeds=embeds, attention_mask=batch.attention_mask, position_ids=batch.position_ids, use_cache=False
    ).last_hidden_state[:, -1]
    head = model.get_output_embeddings().weight[list(verdict_ids)]
    return hidden @ head.T.to(hidden.dtype)


def processor_inputs(processor, items, orders=ORDERS, suffixes=None):
    """Any family: the processor's own inputs for rows pair-major × ``orders``, left padded."""
    texts, images = [], []
    for n, (a, b, query, title) in enumerate(items):
        pair = (open_image(a), open_image(b))
        prefix = prompt_chat_text(processor, query, title)
        for j, order in enumerate(orders):
            suffix = clean_suffix(processor, suffixes[n][j]) if suffixes is not None else ""
            texts.append(prefix + suffix + protocol.ANSWER_OPEN)
            images.append(list(pair) if order == "AB" else list(pair[::-1]))
    tok = processor.tokenizer
    side, tok.padding_side = tok.padding_side, "left"
    try:
        return processor(text=texts, images=images, padding=True, return_tensors="pt", add_special_tokens=False)
    finally:
        tok.padding_side = side


def processor_verdict_logits(model, inputs, verdict_ids: tuple[int, int]):
    """[R, 2] logits of (A, B) at the last position of the model's own forward."""
    import inspect

    keep = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    logits = model(**inputs.to(model.device), use_cache=False, **keep).logits
    return logits[:, -1, list(verdict_ids)]


def judge_logits(model, processor, items, verdict_ids: tuple[int, int], orders=ORDERS, suffixes=None):
    """[R, 2] verdict logits for any family, rows pair-major × ``orders``; ``suffixes`` as in ``build_judge_batch``."""
    import dataclasses

    import torch

    if not families.family_of_processor(processor).framed:
        return processor_verdict_logits(model, processor_inputs(processor, items, orders, suffixes), verdict_ids)
    batch = build_judge_batch(processor, items, orders, suffixes)
    device = model.device
    batch = dataclasses.replace(batch, **{
        f.name: getattr(batch, f.name).to(device) for f in dataclasses.fields(batch) if isinstance(getattr(batch, f.name), torch.Tensor)
    })
    return verdict_logits(model, batch, verdict_ids)


@dataclass(frozen=True)
class Verdict:
    p_a: float
    p_a_orders: tuple[float, ...]
    logits: tuple[tuple[float, float], ...]

    @property
    def winner(self) -> str:
        return "A" if self.p_a >= 0.5 else "B"

    @property
    def consistent(self) -> bool:
        return len({p >= 0.5 for p in self.p_a_orders}) == 1


def p_a_from_logits(logits, orders=ORDERS):
    """[P, len(orders)] probability that the pair's Creative A wins, per order."""
    import torch

    p = torch.softmax(logits.float(), -1).reshape(-1, len(orders), 2)
    cols = [p[:, i, 0] if o == "AB" else p[:, i, 1] for i, o in enumerate(orders)]
    return torch.stack(cols, -1)


class VerdictScorer:
    """Scores pairs in batches with a loaded model; ``score`` returns one Verdict per pair."""

    def __init__(self, model, processor, verdict_ids: tuple[int, int], batch_size: int = 16, orders=ORDERS):
        if not orders or any(o not in ORDERS for o in orders):
            raise ValueError(f"orders must be a non-empty subset of {ORDERS}")
        self.model, self.processor, self.verdict_ids = model, processor, verdict_ids
        self.batch_size, self.orders = batch_size, tuple(orders)

    def logits(self, items):
        """[P * len(orders), 2] verdict logits, rows ordered pair-major."""
        import torch

        outs = []
        with torch.inference_mode():
            for i in range(0, len(items), self.batch_size):
                chunk = items[i: i + self.batch_size]
                outs.append(judge_logits(self.model, self.processor, chunk, self.verdict_ids, self.orders).float().cpu())
        return torch.cat(outs)

    def score(self, items) -> list[Verdict]:
        logits = self.logits(items)
        p = p_a_from_logits(logits, self.orders)
        lg = logits.reshape(len(items), len(self.orders), 2)
        return [
            Verdict(float(p[i].mean()), tuple(float(x) for x in p[i]), tuple(tuple(float(v) for v in row) for row in lg[i]))
            for i in range(len(items))
        ]

    def score_pairs(self, pairs) -> list[Verdict]:
        return self.score([(p.image_a, p.image_b, p.query, p.title) for p in pairs])
