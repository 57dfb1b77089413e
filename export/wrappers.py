"""Export-friendly glue around an Idefics3 model's own modules.

The stock forward does not export: it removes padding images by boolean indexing, places image
features with ``masked_scatter``, builds patch masks with ``unfold``, numbers vision patches with
float ``bucketize`` and builds attention masks with vmap helpers. These wrappers call the same
weights and layers (HF's own decoder layers and vision encoder) but do the glue in static,
integer arithmetic:

- vision patch position ids are fixed for the export's square frame, computed with HF's own
  numbering (captured from the installed transformers) and checked against the exact integer
  formula; the graph takes full frames only, so no patch mask is needed;
- image rows are placed by ``gather`` on the cumulative image-token count;
- position ids are ``cumsum(attention_mask) - 1`` clamped at 0, as in ``scorer``;
- attention masks are explicit 4-D additive masks (causal and left-padding);
- the KV cache is a plain list of tensors (``past.*`` in, ``present.*`` out).
"""

from __future__ import annotations

import torch
from torch import nn


def exact_patch_position_ids(nb_h: int, nb_w: int, per_side: int) -> torch.Tensor:
    """Idefics3 patch numbering in integer arithmetic: bucket = floor(i * per_side / nb)."""
    h = torch.arange(nb_h, dtype=torch.long) * per_side // nb_h
    w = torch.arange(nb_w, dtype=torch.long) * per_side // nb_w
    return (h[:, None] * per_side + w[None, :]).reshape(-1)


def hf_patch_position_ids(embeddings: nn.Module, image_size: int) -> torch.Tensor:
    """The position ids the installed transformers' vision embeddings use for a full square frame."""
    seen = {}

    def capture(module, args, output):
        seen["ids"] = args[0].clone()

    hook = embeddings.position_embedding.register_forward_hook(capture)
    try:
        side = image_size // embeddings.patch_size
        param = embeddings.patch_embedding.weight
        with torch.no_grad():
            embeddings(torch.zeros(1, 3, image_size, image_size, dtype=param.dtype),
                       torch.ones(1, side, side, dtype=torch.bool))
    finally:
        hook.remove()
    return seen["ids"].reshape(-1).to(torch.long)


class VisionGraph(nn.Module):
    """pixel_values [N, 3, S, S] -> image_embeds [N, image_seq_len, text_hidden] (connector output)."""

    def __init__(self, model, image_size: int):
        super().__init__()
        vm = model.model.vision_model
        self.embeddings, self.encoder, self.post_layernorm = vm.embeddings, vm.encoder, vm.post_layernorm
        self.connector = model.model.connector
        side = image_size // self.embeddings.patch_size
        if side * self.embeddings.patch_size != image_size:
            raise ValueError(f"image size {image_size} is not a multiple of the patch size {self.embeddings.patch_size}")
        hf = hf_patch_position_ids(self.embeddings, image_size)
        exact = exact_patch_position_ids(side, side, self.embeddings.num_patches_per_side)
        # HF's float bucketize is authoritative for parity; the integer formula documents what it should be.
        self.numbering_matches_integer_formula = bool(torch.equal(hf, exact))
        self.register_buffer("position_ids", hf[None], persistent=False)

    def forward(self, pixel_values):
        x = self.embeddings.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        x = x + self.embeddings.position_embedding(self.position_ids)
        x = self.encoder(inputs_embeds=x, attention_mask=None).last_hidden_state
        return self.connector(self.post_layernorm(x))


def place_images(embeds, input_ids, image_embeds, image_token_id: int):
    """Row r's k-th image token takes ``image_embeds[r, k]`` (gather, no boolean indexing)."""
    is_image = input_ids == image_token_id
    index = (is_image.to(torch.long).cumsum(-1) - 1).clamp(min=0)
    index = index.clamp(max=image_embeds.shape[1] - 1)
    rows = torch.gather(image_embeds.to(embeds.dtype), 1, index.unsqueeze(-1).expand(-1, -1, embeds.shape[-1]))
    return torch.where(is_image.unsqueeze(-1), rows, embeds)


def additive_mask(attention_mask, q_len, dtype):
    """[R, 1, q, K] additive mask: query i (at key position K - q + i) sees unpadded keys at or before it."""
    k_len = attention_mask.shape[1]
    k_pos = torch.arange(k_len, device=attention_mask.device)
    q_pos = k_pos[k_len - q_len:]
    allowed = (k_pos[None, :] <= q_pos[:, None])[None] & (attention_mask[:, None, :] > 0)
    zero = torch.zeros((), dtype=dtype)
    return torch.where(allowed[:, None], zero, torch.full((), torch.finfo(dtype).min, dtype=dtype))


class ListCache:
    """The one method HF attention calls on a cache, over plain tensors: appends and records."""

    def __init__(self, past=None):
        self.past = list(past) if past else []
        self.present: list = []

    def update(self, key, value, layer_idx, *args, **kwargs):
        if self.past:
            key = torch.cat([self.past[2 * layer_idx], key], dim=2)
            value = torch.cat([self.past[2 * layer_idx + 1], value], dim=2)
        self.present += [key, value]
        return key, value


class _TextBase(nn.Module):
    def __init__(self, model):
        super().__init__()
        tm = model.model.text_model
        self.embed_tokens, self.layers, self.norm, self.rotary_emb = tm.embed_tokens, tm.layers, tm.norm, tm.rotary_emb
        self.image_token_id = int(model.config.image_token_id)

    def run(self, embeds, attention_mask, position_ids, q_len, past=None):
        mask = additive_mask(attention_mask, q_len, embeds.dtype)
        cos_sin = self.rotary_emb(embeds, position_ids)
        cache = ListCache(past)
        h = embeds
        for layer in self.layers:
            h = layer(h, attention_mask=mask, position_ids=position_ids, cache=cache, use_cache=True, position_embeddings=cos_sin)
        return self.norm(h)[:, -1], cache.present

    def prefill_hidden(self, input_ids, attention_mask, image_embeds):
        embeds = place_images(self.embed_tokens(input_ids), input_ids, image_embeds, self.image_token_id)
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        return self.run(embeds, attention_mask, position_ids, input_ids.shape[1])


class JudgeGraph(_TextBase):
    """input_ids, attention_mask, image_embeds -> verdict_logits [R, 2] (A, B) at the last position."""

    def __init__(self, model, verdict_ids):
        super().__init__(model)
        head = model.get_output_embeddings().weight.detach()[list(verdict_ids)].clone()
        self.register_buffer("verdict_head", head, persistent=False)

    def forward(self, input_ids, attention_mask, image_embeds):
        last, _ = self.prefill_hidden(input_ids, attention_mask, image_embeds)
        return last @ self.verdict_head.T


class JudgeExtendGraph(JudgeGraph):
    """input_ids [R, T], image_embeds [R, N, H], past.* [R, kv_heads, P, head_dim] -> verdict_logits [R, 2] at the last
    position and present.* (P + T long): the judge prompt continued from a cached prefix (P = 0 for the first part).

    Rows are unpadded (the runtime groups rows by prompt), so the new tokens sit at positions P .. P + T - 1 and see
    every cached key: the same positions and mask as the full prompt, computed once per prefix.
    """

    def forward(self, input_ids, image_embeds, *past):
        embeds = place_images(self.embed_tokens(input_ids), input_ids, image_embeds, self.image_token_id)
        rows, new = input_ids.shape
        cached = past[0].shape[2]
        position_ids = (torch.arange(new, device=input_ids.device) + cached)[None].expand(rows, new)
        attention_mask = torch.ones((rows, cached + new), dtype=torch.long, device=input_ids.device)
        last, present = self.run(embeds, attention_mask, position_ids, new, past)
        return (last @ self.verdict_head.T, *present)


class _WithHead(_TextBase):
    def __init__(self, model):
        super().__init__(model)
        self.lm_head = model.get_output_embeddings()
        self.tied = self.lm_head.weight is self.embed_tokens.weight and getattr(self.lm_head, "bias", None) is None

    def logits(self, last):
        """[R, vocab]. A tied head multiplies the embedding table as stored ([V, H] @ [R, H, 1]), so the
        graph keeps one copy of it instead of the table plus its transpose (114 MB at SmolVLM-256M)."""
        if self.tied:
            return torch.matmul(self.embed_tokens.weight, last.unsqueeze(-1)).squeeze(-1)
        return self.lm_head(last)


class PrefillGraph(_WithHead):
    """Judge inputs -> logits [R, vocab] at the last position and present.* [R, kv_heads, L, head_dim]."""

    def forward(self, input_ids, attention_mask, image_embeds):
        last, present = self.prefill_hidden(input_ids, attention_mask, image_embeds)
        return (self.logits(last), *present)


class StepGraph(_WithHead):
    """input_ids [R, 1], attention_mask [R, P + 1], past.* -> logits [R, vocab] and present.* (P + 1 long)."""

    def forward(self, input_ids, attention_mask, *past):
        embeds = self.embed_tokens(input_ids)
        position_ids = (attention_mask.sum(-1, keepdim=True) - 1).clamp(min=0)
        last, present = self.run(embeds, attention_mask, position_ids, 1, past)
        return (self.logits(last), *present)
