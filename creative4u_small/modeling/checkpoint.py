"""Loading image-text-to-text checkpoints as the hub ships them: safetensors only, family-aware.

- The family comes from ``config.json`` (``families.py``); a model type that cannot take the role
  is refused in one line naming the supported families.
- Processors are built image-only: the Qwen and SmolVLM2 processors carry video processors that
  need torchvision, which the project's CPU torch cannot import. The processor class is the
  model's own (so its text and image behaviour is the hub's) minus its video attribute; image
  processors run on their Pillow backend, so pixels are the same whether torchvision is installed
  or not, and framed families see one frame per creative.
- The answer tags become tokens of their own when a model enters the pipeline (``add_tokens``):
  Qwen's pre-tokenizer merges ``>A``, so ``<answer>A`` would not end in the verdict token.
"""

from __future__ import annotations

from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.modeling import families

TAGS = (protocol.THINK_OPEN, protocol.THINK_CLOSE, protocol.ANSWER_OPEN, protocol.ANSWER_CLOSE)


def _model_type(path) -> str:
    local = Path(path)
    if local.exists():
        return families.model_type_of(local)
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(path)).model_type


def image_only_class(processor_class):
    """``processor_class`` without its video processor (same name, so saved configs name the hub class).

    None if the class needs more than an image processor and a tokenizer, or if its video processor
    is not its last argument (the ``None`` passed in its place must fall off the end).
    """
    attrs = list(processor_class.get_attributes())
    kept = [a for a in attrs if "video" not in a]
    if kept != ["image_processor", "tokenizer"] or attrs[: len(kept)] != kept:
        return None
    if kept == attrs:
        return processor_class
    from transformers import ProcessorMixin

    def apply_chat_template(self, conversation, chat_template=None, **kwargs):
        return ProcessorMixin.apply_chat_template(self, conversation, chat_template, **kwargs)

    return type(processor_class.__name__, (processor_class,), {
        "get_attributes": classmethod(lambda cls: list(kept)), "__module__": processor_class.__module__,
        # SmolVLM2 overrides it only to pass its video processor's frame settings on
        "apply_chat_template": apply_chat_template,
        "__doc__": f"{processor_class.__name__} for text and images only (no video processor, no torchvision).",
    })


def one_frame(processor) -> dict:
    """Turn a framed family's tiling off: one square ``max_image_size`` frame per creative; returns what changed."""
    ip = processor.image_processor
    changed = {}
    if getattr(ip, "do_image_splitting", False):
        ip.do_image_splitting = False
        changed["do_image_splitting"] = [True, False]
    edge = (getattr(ip, "max_image_size", None) or {}).get("longest_edge")
    old = (ip.size or {}).get("longest_edge")
    if edge and old != edge:
        ip.size = {"longest_edge": edge}
        changed["size.longest_edge"] = [old, edge]
    return changed


def load_processor(path: str | Path, model_type: str, notes: dict | None = None):
    """The model's own processor class, image-only, on the Pillow image backend (one frame when framed)."""
    import transformers
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    cls = image_only_class(getattr(transformers, name)) if name and hasattr(transformers, name) else None
    if cls is None:
        processor = AutoProcessor.from_pretrained(str(path))
    else:
        processor_dict, kwargs = cls.get_processor_dict(str(path))
        image_processor = AutoImageProcessor.from_pretrained(str(path), backend="pil")
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        videos = [None] * (len(getattr(transformers, name).get_attributes()) - 2)
        processor = cls.from_args_and_dict([image_processor, tokenizer, *videos], processor_dict, **kwargs)
    if families.family_for(model_type).framed:
        changed = one_frame(processor)
        if notes is not None and changed:
            notes["frames"] = {"one_frame_per_creative": True, "changed": changed}
    return processor


def add_protocol_tokens(model, processor) -> list[str]:
    """Make the verdict read unambiguously: add the answer tags as tokens where the tokenizer merges them.

    Added as plain (non-special) tokens, so decoded text keeps them and the parsers see them;
    embeddings grow (mean-initialised) when the table is too small. Returns the tags added.
    """
    tok = processor.tokenizer
    try:
        protocol.verdict_token_ids(tok)
        return []
    except protocol.VerdictTokenError:
        pass
    vocab = tok.get_vocab()
    added = [t for t in TAGS if t not in vocab]
    tok.add_tokens(added)
    if len(tok) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tok), mean_resizing=True)
    protocol.verdict_token_ids(tok)
    return added


def load_model(path: str | Path, *, dtype=None, device: str | None = None, train: bool = False,
               role: str = families.TEACHER, add_tokens: bool = False, verdict: bool = True, notes: dict | None = None):
    """(model, processor, (id_A, id_B) or None) from a local folder or hub id; refuses pickle weights.

    ``add_tokens``: the model enters the pipeline here (teacher SFT, distillation), so missing
    answer tags are added and saved with it. Otherwise a tokenizer that cannot give the verdict
    as one token after ``<answer>`` is refused (``verdict=False`` skips the check: text-only use).
    ``notes`` collects what loading changed (frames, added tokens) for provenance.
    """
    import torch
    from transformers import AutoModelForImageTextToText

    local = Path(path)
    if local.exists() and not any(local.glob("*.safetensors")):
        raise ValueError(f"{local}: no *.safetensors weights (pickled checkpoints are never loaded); re-save it with safe_serialization=True")
    model_type = _model_type(path)
    families.family_for(model_type, role, where=str(path))
    processor = load_processor(path, model_type, notes)
    try:
        model = AutoModelForImageTextToText.from_pretrained(str(path), use_safetensors=True, dtype=dtype or torch.float32)
    except ValueError as e:
        if "Unrecognized configuration class" not in str(e):
            raise
        raise ValueError(f"{path}: not an image-text-to-text model; supported {role}s: {families.supported(role)}") from None
    ids = None
    if add_tokens:
        added = add_protocol_tokens(model, processor)
        if notes is not None and added:
            notes["added_tokens"] = added
    if verdict or add_tokens:
        try:
            ids = protocol.verdict_token_ids(processor.tokenizer)
        except protocol.VerdictTokenError as e:
            raise protocol.VerdictTokenError(f"{path}: {e}; c4u teacher sft and c4u distill add the answer tags as tokens when a model "
                             "enters the pipeline, so train it with one of them first (c4u data annotate needs no verdict token)") from None
    if device:
        model.to(device)
    model.train(train)
    return model, processor, ids
