"""The judge prompt as the model's own chat template renders it (text, no tensors): user turn, generation prompt,
the lead before the assistant's first token, ``<answer>``, and each ``<image>`` expanded into a framed family's
image block. Labelling, evaluation, the exporter's prompt pieces and the scorer all render prompts here.
"""

from __future__ import annotations

from creative4u_small.contract import protocol
from creative4u_small.modeling import families


def completion_lead(processor) -> str:
    """Text the chat template puts between the generation prompt and the assistant's first token."""
    msgs = protocol.prompt_messages("q", "t")
    head = processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    full = processor.apply_chat_template(msgs + protocol.completion_messages("\x00X"), tokenize=False)
    if not full.startswith(head) or "\x00X" not in full:
        raise ValueError("this chat template does not render the assistant turn after its generation prompt")
    return full[len(head): full.index("\x00X")]


def prompt_chat_text(processor, query: str, title: str) -> str:
    """The rendered user turn plus generation prompt and lead (``<image>`` placeholders unexpanded)."""
    return chat_text(processor, protocol.prompt_messages(query, title))


def chat_text(processor, messages: list[dict]) -> str:
    """Any user turn (e.g. ``protocol.annotation_messages``) rendered as ``prompt_chat_text`` renders the judge's."""
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + completion_lead(processor)


def judge_text(processor, query: str, title: str) -> str:
    return prompt_chat_text(processor, query, title) + protocol.ANSWER_OPEN


def framed_family(processor) -> families.Family:
    family = families.family_of_processor(processor)
    if not family.framed:
        raise ValueError(f"{family.name} processors build their own image tokens; this path needs a framed family "
                         f"(students: {families.supported(families.STUDENT)})")
    return family


def image_token_block(processor) -> str:
    """What one ``<image>`` becomes for an unsplit image (framed families)."""
    return framed_family(processor).image_block(processor)


def expand_images(processor, text: str) -> str:
    return text.replace(protocol.IMAGE_TOKEN, image_token_block(processor))
