"""Teacher labelling: sampled rationales in both orders and the teacher's own answer probability.

For each pair the teacher samples K rationales in each image order (AB, BA). After each
rationale its answer probability is read where it answers — softmax over the verdict tokens at
``<answer>`` after prompt + its ``<think>…</think>`` (the shared scorer with a per-row suffix;
each distinct image encoded once per batch). BA probabilities are mapped back to creative A.

- ``teacher.p_a``: mean over both orders and all samples; ``teacher.p_a_orders``: per order;
- ``teacher.verdict``: "A" when ``p_a`` ≥ 0.5;
- ``teacher.rationales``: the kept rationale (written for the AB order): a well-formed sample
  whose own answer (and Q10) matches the verdict and the label (when there is one); the one whose
  lines favour its answer, then whose free text says what its lines say, then the most confident;
  empty when no sample qualifies (never a made-up one).

``--k 0`` samples nothing: the answer is read after an empty ``<think>\\n</think>``.
Records are appended batch by batch and a rerun resumes them (``scale.resumable_jsonl``); ``--engine ray``
labels the same batches on Ray actors (``label_ray``).
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.contract.artifacts import versions, write_json_atomic
from creative4u_small.contract.pairs import CreativePair, TeacherLabel, load_pairs
from creative4u_small.distill.label.label_config import LabelConfig
from creative4u_small.distill.sampling import TransformersGenerator, VLLMGenerator, torch_device
from creative4u_small.distill.teacher.rewards import consistency_score, text_consistency_score
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.modeling.scorer import ORDERS, judge_logits, p_a_from_logits
from creative4u_small.scale.resumable_jsonl import append_lines, in_batches, prepare_output
from creative4u_small.scale.row_writer import provenance_path

STATS_FIELD = "teacher_stats"


def reasoning_suffix(generated: str) -> str:
    """What to put between the prompt and ``<answer>`` to read the teacher's own answer.

    The generated text up to and including its first ``</think>``; a text without one (cut by
    ``max_new_tokens``, or malformed) is taken up to any ``<answer>`` and closed with
    ``</think>``. ``<image>`` strings are dropped so they cannot pose as image tokens.
    """
    text = generated.replace(protocol.IMAGE_TOKEN, "").lstrip()
    end = text.find(protocol.THINK_CLOSE)
    if end >= 0:
        return text[: end + len(protocol.THINK_CLOSE)]
    cut = text.find(protocol.ANSWER_OPEN)
    return (text[:cut] if cut >= 0 else text).rstrip() + protocol.THINK_CLOSE


EMPTY_REASONING = f"{protocol.THINK_OPEN}\n{protocol.THINK_CLOSE}"


def choose_rationale(samples: list[dict], verdict: str, label: str | None) -> str | None:
    """The kept rationale: well formed, Q10 = answer = verdict (= label when known), best first.

    A sample whose Q10 contradicts its own answer is never kept: the student copies Q10 after the
    verdict it has already written, so one such label teaches it to contradict itself.
    """
    fits = [s for s in samples if s["well_formed"] and s["q10_agrees"] and s["answer"] == verdict
            and (label is None or s["answer"] == label)]
    if not fits:
        return None
    best = max(fits, key=lambda s: (consistency_score(s["text"]), text_consistency_score(s["text"]) or 0.0, s["p_answer"]))
    return best["text"]


def sample_record(generated: str, order: str, p_a: float) -> dict:
    """One sample in the AB frame: its answer (None if malformed), its text, p of its answer."""
    parsed = protocol.parse_teacher(generated)
    well_formed = not isinstance(parsed, protocol.ParseError) and not protocol.protocol_errors(parsed.answers)
    if not well_formed:
        return {"well_formed": False, "answer": None, "text": None, "p_answer": 0.0, "q10_agrees": False}
    text = protocol.swap_teacher_completion(generated.strip()) if order == "BA" else generated.strip()
    parsed = protocol.parse_teacher(text)
    return {"well_formed": True, "answer": parsed.verdict, "text": text, "p_answer": p_a if parsed.verdict == "A" else 1.0 - p_a,
            "q10_agrees": protocol.q10_agrees(parsed)}


class Labeller:
    """Generates and scores one batch of pairs at a time (transformers or vLLM generation)."""

    def __init__(self, config: LabelConfig, model, processor, verdict_ids, generator=None):
        self.config, self.model, self.processor, self.verdict_ids = config, model, processor, verdict_ids
        self.generator = generator
        self.model_name = Path(config.teacher).name or str(config.teacher)

    def generations(self, pairs: list[CreativePair]) -> list[list[list[str]]]:
        """[pair][order][k] generated texts (K = 1 empty reasoning when k is 0)."""
        if self.config.k == 0:
            return [[[EMPTY_REASONING], [EMPTY_REASONING]] for _ in pairs]
        rows = []
        for p in pairs:
            rows += [(p.image_a, p.image_b, p.query, p.title), (p.image_b, p.image_a, p.query, p.title)]
        seed = self.config.seed + zlib.crc32("\n".join(p.id for p in pairs).encode())
        texts = self.generator.generate(rows, seed)
        return [[texts[2 * i], texts[2 * i + 1]] for i in range(len(pairs))]

    def p_a(self, pairs: list[CreativePair], gens) -> "object":
        """[pair, k, order] probability that the pair's creative A wins, read after each rationale."""
        import torch

        k = len(gens[0][0])
        items, suffixes = [], []
        for p, (ab, ba) in zip(pairs, gens):
            for j in range(k):
                items.append((p.image_a, p.image_b, p.query, p.title))
                suffixes.append((reasoning_suffix(ab[j]), reasoning_suffix(ba[j])))
        with torch.inference_mode():
            logits = judge_logits(self.model, self.processor, items, self.verdict_ids, ORDERS, suffixes).float().cpu()
        return p_a_from_logits(logits, ORDERS).reshape(len(pairs), k, len(ORDERS))

    def label(self, pairs: list[CreativePair]) -> list[CreativePair]:
        import dataclasses

        gens = self.generations(pairs)
        probs = self.p_a(pairs, gens)
        out = []
        for i, pair in enumerate(pairs):
            per_order = probs[i].mean(0)
            p_a = float(per_order.mean())
            verdict = "A" if p_a >= 0.5 else "B"
            samples = []
            if self.config.k > 0:
                for o, order in enumerate(("AB", "BA")):
                    samples += [sample_record(text, order, float(probs[i, j, o])) for j, text in enumerate(gens[i][o])]
            kept = choose_rationale(samples, verdict, pair.label)
            teacher = TeacherLabel(
                p_a=min(max(p_a, 0.0), 1.0), verdict=verdict, rationales=[kept] if kept else [],
                model=self.model_name, p_a_orders=[float(x) for x in per_order],
            )
            stats = {
                "k": self.config.k, "temperature": self.config.temperature,
                "well_formed": sum(s["well_formed"] for s in samples),
                "answers": {v: sum(s["answer"] == v for s in samples) for v in protocol.VERDICTS},
                "orders_agree": len({float(x) >= 0.5 for x in per_order}) == 1,
            }
            out.append(dataclasses.replace(pair, teacher=teacher, extra={**pair.extra, STATS_FIELD: stats}))
        return out


def append_records(out: Path, records: list[CreativePair]) -> None:
    """One JSON line per record (image paths relative to ``out``'s folder), flushed and fsynced."""
    append_lines(out, [rec.to_json(out.parent) for rec in records])


def label_pairs(config: LabelConfig, progress=None, warn=print) -> dict:
    """Label every pair of ``config.pairs`` not yet in ``config.out``; returns a summary.

    ``progress(done, total)`` is called after each batch is on disk.
    """

    started = time.time()
    pairs = load_pairs(Path(config.pairs), check_images="decode")
    done = prepare_output(config, pairs, warn, what="labels")
    todo = [p for p in pairs if p.id not in done]
    summary = {"pairs": len(pairs), "already_labelled": len(done), "labelled_now": 0, "engine": config.engine}
    if todo and config.engine == "ray":
        from creative4u_small.distill.label.label_ray import label_on_ray  # it builds on this module

        summary.update(label_on_ray(config, pairs, todo, progress, warn))
    elif todo:
        model, processor, ids = load_model(config.teacher, device=torch_device(config.device))
        generator = make_generator(config, model, processor)
        labeller = Labeller(config, model, processor, ids, generator)
        for batch in in_batches(todo, config.batch_size, len(done), len(pairs), progress):
            records = labeller.label(batch)
            append_records(Path(config.out), records)
            summary["labelled_now"] += len(records)
    summary["seconds"] = round(time.time() - started, 2)
    summary["pairs_per_second"] = round(summary["labelled_now"] / summary["seconds"], 3) if summary["seconds"] else None
    write_json_atomic(provenance_path(Path(config.out)), {
        "stage": "teacher-label", "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "versions": versions(), "results": summary,
    })
    return summary


def make_generator(config: LabelConfig, model, processor):
    if config.k == 0:
        return None
    if config.backend == "vllm":
        return VLLMGenerator(config.teacher, config.k, config.temperature, config.max_new_tokens, processor)
    return TransformersGenerator(model, processor, config.k, config.temperature, config.max_new_tokens)
