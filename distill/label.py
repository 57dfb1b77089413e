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
Records are appended with flush + fsync per pair; a rerun skips ids already written, and a
truncated last line (a crash mid-write) is cut away with a warning.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path

from creative4u_small import protocol
from creative4u_small.distill.label_config import LabelConfig
from creative4u_small.distill.label_generate import EMPTY_REASONING, reasoning_suffix
from creative4u_small.distill.rewards import consistency_score, text_consistency_score
from creative4u_small.pairs import CreativePair, TeacherLabel, load_pairs

STATS_FIELD = "teacher_stats"


def provenance_path(out: Path) -> Path:
    return Path(out).with_name(Path(out).name + ".c4u_provenance.json")


def read_done_ids(out: Path, warn=print) -> set[str]:
    """Ids already labelled in ``out``; a truncated last line is removed (with a warning)."""
    out = Path(out)
    if not out.exists():
        return set()
    data = out.read_bytes()
    done, good_end, pos = set(), 0, 0
    for lineno, raw in enumerate(data.splitlines(keepends=True), 1):
        pos += len(raw)
        if not raw.strip():
            good_end = pos
            continue
        try:
            rec = json.loads(raw)
            complete = raw.endswith(b"\n")
        except json.JSONDecodeError:
            rec, complete = None, False
        if rec is None or not complete:
            if pos != len(data):
                raise ValueError(f"{out}: line {lineno} is not valid JSON and is not the last line; fix or remove it")
            break
        done.add(str(rec.get("id")))
        good_end = pos
    if good_end < len(data):
        warn(f"warning: {out}: dropping a truncated last line ({len(data) - good_end} bytes) left by an interrupted run")
        with open(out, "r+b") as fh:
            fh.truncate(good_end)
    return done


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

        from creative4u_small.scorer import ORDERS, judge_logits, p_a_from_logits

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
    """One JSON line per record, flushed and fsynced so a crash loses at most the line being written."""
    append_lines(out, [rec.to_json(out.parent) for rec in records])


def append_lines(out: Path, rows: list[dict]) -> None:
    """``append_records`` for plain JSON objects (e.g. the rejects of ``c4u data annotate``)."""
    with open(out, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
        os.fsync(fh.fileno())


def prepare_output(config: LabelConfig, pairs: list[CreativePair], warn, what: str = "labels") -> set[str]:
    out = Path(config.out)
    if out.exists() and out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a .jsonl file path")
    if config.overwrite and out.exists():
        out.unlink()
    if out.exists() and out.stat().st_size and not config.resume:
        raise FileExistsError(f"{out} already holds {what}; rerun with --resume (the default) to continue it, or --overwrite to start over")
    done = read_done_ids(out, warn)
    stray = done - {p.id for p in pairs}
    if stray:
        raise ValueError(f"{out} holds {len(stray)} pair(s) not in {config.pairs} (e.g. {sorted(stray)[0]!r}); it belongs to another run: choose another --out or pass --overwrite --no-resume")
    out.parent.mkdir(parents=True, exist_ok=True)
    return done


def label_pairs(config: LabelConfig, progress=None, warn=print) -> dict:
    """Label every pair of ``config.pairs`` not yet in ``config.out``; returns a summary.

    ``progress(done, total)`` is called after each batch is on disk.
    """
    from creative4u_small.artifacts import versions, write_json_atomic
    from creative4u_small.checkpoint import load_model

    started = time.time()
    pairs = load_pairs(Path(config.pairs), check_images="decode")
    done = prepare_output(config, pairs, warn)
    todo = [p for p in pairs if p.id not in done]
    summary = {"pairs": len(pairs), "already_labelled": len(done), "labelled_now": 0}
    if todo:
        model, processor, ids = load_model(config.teacher, device=_device(config))
        generator = make_generator(config, model, processor)
        labeller = Labeller(config, model, processor, ids, generator)
        for i in range(0, len(todo), config.batch_size):
            records = labeller.label(todo[i: i + config.batch_size])
            append_records(Path(config.out), records)
            summary["labelled_now"] += len(records)
            if progress is not None:
                progress(len(done) + summary["labelled_now"], len(pairs))
    summary["seconds"] = round(time.time() - started, 2)
    summary["pairs_per_second"] = round(summary["labelled_now"] / summary["seconds"], 3) if summary["seconds"] else None
    write_json_atomic(provenance_path(Path(config.out)), {
        "stage": "teacher-label", "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "versions": versions(), "results": summary,
    })
    return summary


def _device(config: LabelConfig) -> str:
    if config.device:
        return config.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def make_generator(config: LabelConfig, model, processor):
    from creative4u_small.distill.label_generate import TransformersGenerator, VLLMGenerator

    if config.k == 0:
        return None
    if config.backend == "vllm":
        return VLLMGenerator(config.teacher, config.k, config.temperature, config.max_new_tokens, processor)
    return TransformersGenerator(model, processor, config.k, config.temperature, config.max_new_tokens)
