"""A byte-level BPE tokenizer trained offline with `tokenizers` on protocol text.

It carries the special tokens the Idefics3 processor expects, the SmolVLM chat template, and
keeps the verdicts ``A``/``B`` single tokens after ``<answer>``.
"""

from __future__ import annotations

import itertools

from creative4u_small.contract import protocol

IM_START, END_OF_UTTERANCE, EOS, PAD = "<|im_start|>", "<end_of_utterance>", "<|im_end|>", "<|endoftext|>"
FAKE_IMAGE, GLOBAL_IMAGE = "<fake_token_around_image>", "<global-img>"
ROW_COL = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
SPECIAL_TOKENS = [PAD, IM_START, EOS, END_OF_UTTERANCE, FAKE_IMAGE, protocol.IMAGE_TOKEN, GLOBAL_IMAGE, *ROW_COL]
TAG_TOKENS = [protocol.THINK_OPEN, protocol.THINK_CLOSE, protocol.ANSWER_OPEN, protocol.ANSWER_CLOSE]

# SmolVLM's template, so that the presets and real SmolVLM checkpoints render prompts alike.
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

_WORDS = (
    "red blue green black white yellow orange pink purple brown grey navy beige gold silver "
    "running trail hiking walking leather canvas waterproof lightweight classic modern compact "
    "shoe shoes sneaker boot bag backpack handbag tote mug cup bottle lamp chair watch phone "
    "jacket dress shirt hat headphones speaker kettle pan men's women's kids kitchen home office "
    "sale new free shipping buy now shop order today limited offer off price deal best quality "
    "the a an for with and of in on to is more larger smaller clearer plain busy centred product "
    "background text headline button call action contrast clutter props layout subject size"
).split()


def training_corpus() -> list[str]:
    """Protocol prompts and completions plus common ad words, enough to learn useful merges."""
    lines = [protocol.prompt_text(q, t) for q, t in itertools.product(["red running shoe", ""], ["Leather bag", ""])]
    for values in itertools.product(protocol.COMPARISONS, repeat=2):
        answers = {q.key: values[i % 2] for i, q in enumerate(protocol.QUESTIONS) if q.allowed == protocol.COMPARISONS}
        answers.update(Q1="no", Q2="no")
        for v in protocol.VERDICTS:
            answers["Q10"] = v
            text = protocol.teacher_completion(v, answers, f"Creative {v} shows the product larger and clearer.")
            lines += [text, protocol.student_completion(v, text)]
    lines += [" ".join(_WORDS[i : i + 8]) for i in range(0, len(_WORDS), 3)]
    return lines * 4


def build_tokenizer(vocab_size: int):
    """A ``PreTrainedTokenizerFast`` (transformers imported lazily)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_corpus(), trainer=trainer)
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in TAG_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=IM_START,
        eos_token=END_OF_UTTERANCE,
        pad_token=PAD,
        unk_token=None,
        model_input_names=["input_ids", "attention_mask"],
        extra_special_tokens={"fake_image_token": FAKE_IMAGE, "image_token": protocol.IMAGE_TOKEN,
                              "end_of_utterance_token": END_OF_UTTERANCE, "global_image_token": GLOBAL_IMAGE},
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    protocol.verdict_token_ids(fast)
    return fast
