"""``c4u data annotate``: teacher-format rationales for labelled pairs, written by a strong MLLM and filtered.

Creative4U's CreativePair paired every CTR label with a comparative rationale along the protocol,
written by a large MLLM that was told which creative won, then filtered. Here each pair (in one
or both image orders) is sent to an annotator (``annotate.annotator``); every output goes through
the strict filter (``annotate_filter``); a rejected output is sampled again up to ``retries``
times. A pair whose every order is accepted is appended to ``--out`` with its rationale (in the
AB frame) and an ``annotation`` record (prompt version, annotator, order, attempts); a pair still
rejected goes with its reason to ``<out stem>.rejects.jsonl``. Both files are appended round by
round with flush + fsync, like ``c4u label``; a rerun skips every id in either file and cuts a
truncated last line, so an interrupted run loses at most the round in flight.
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from collections import Counter
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.contract.artifacts import versions, write_json_atomic
from creative4u_small.contract.pairs import CreativePair, load_pairs
from creative4u_small.distill.annotate.annotate_config import AnnotateConfig
from creative4u_small.distill.annotate.annotate_filter import category, rejection
from creative4u_small.distill.annotate.annotator import Request, make_annotator
from creative4u_small.scale.resumable_jsonl import append_lines, in_batches, prepare_output

ANNOTATION_FIELD = "annotation"
LAST_OUTPUT_CHARS = 2000


def rejects_path(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".rejects.jsonl")


def report_path(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".annotate_report.json")


def prompt_version(config: AnnotateConfig) -> str:
    return protocol.ANNOTATION_PROMPT_VERSION if config.prompt == "annotate" else protocol.TEACHER_PROMPT_VERSION


def requests_for(pair: CreativePair, config: AnnotateConfig) -> list[Request]:
    out = []
    for order in config.order_list:
        first, second = (pair.image_a, pair.image_b) if order == "AB" else (pair.image_b, pair.image_a)
        winner = pair.label if order == "AB" else protocol.flip_verdict(pair.label)
        out.append(Request(pair.id, order, first, second, pair.query, pair.title, winner, config.prompt))
    return out


def annotate_round(annotator, pairs: list[CreativePair], config: AnnotateConfig, seed: int) -> tuple[list[dict], list[dict]]:
    """(accepted records, reject rows) for one round of pairs, retrying rejected outputs."""
    requests = [r for p in pairs for r in requests_for(p, config)]
    state = {(r.pair_id, r.order): {"attempts": 0, "text": None, "reason": None, "last": ""} for r in requests}
    for attempt in range(config.retries + 1):
        todo = [r for r in requests if state[(r.pair_id, r.order)]["text"] is None]
        if not todo:
            break
        texts = annotator.complete(todo, seed + 1_000_003 * attempt)
        if len(texts) != len(todo):
            raise RuntimeError(f"annotator {annotator.name} returned {len(texts)} completions for {len(todo)} requests")
        for r, text in zip(todo, texts):
            s = state[(r.pair_id, r.order)]
            s["attempts"] += 1
            reason = rejection(text, r.winner)
            if reason is None:
                s["text"], s["reason"] = text.strip(), None
            else:
                s["reason"], s["last"] = reason, text
    accepted, rejected = [], []
    for pair in pairs:
        per = {o: state[(pair.id, o)] for o in config.order_list}
        meta = {
            "prompt_version": prompt_version(config), "annotator": annotator.name,
            "attempts": {o: s["attempts"] for o, s in per.items()},
        }
        failed = {o: s["reason"] for o, s in per.items() if s["text"] is None}
        if failed:
            first = next(iter(failed.values()))
            rejected.append({
                "id": pair.id, "label": pair.label, "query": pair.query, "title": pair.title,
                "reason": first if len(per) == 1 else f"{first} ({', '.join(failed)})",
                "category": category(first), "reasons": {o: s["reason"] for o, s in per.items()},
                "last_output": {o: per[o]["last"][:LAST_OUTPUT_CHARS] for o in failed}, ANNOTATION_FIELD: meta,
            })
            continue
        kept = "AB" if "AB" in per else "BA"
        text = per[kept]["text"]
        rationale = text if kept == "AB" else protocol.swap_teacher_completion(text)
        meta = {**meta, "order": kept, "orders": list(per), "temperature": config.temperature}
        if len(per) > 1:
            meta["rationale_ba"] = per["BA"]["text"]
        record = dataclasses.replace(
            pair, rationale=rationale, image_a=Path(pair.image_a).resolve(), image_b=Path(pair.image_b).resolve(),
            extra={**pair.extra, ANNOTATION_FIELD: meta},
        )
        accepted.append(record.to_json(Path(config.out).parent))
    return accepted, rejected


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summarize(out: Path, rejects: Path) -> dict:
    """Counts over everything in ``out`` and its rejects file (so a resumed run reports the whole set)."""
    acc, rej = _records(Path(out)), _records(Path(rejects))

    def retried(r):
        attempts = (r.get(ANNOTATION_FIELD) or {}).get("attempts") or {}
        return any(n > 1 for n in attempts.values())

    per_query: dict[str, dict] = {}
    for recs, key in ((acc, "accepted"), (rej, "rejected")):
        for r in recs:
            q = per_query.setdefault(r.get("query") or "", {"accepted": 0, "rejected": 0})
            q[key] += 1
    for q in per_query.values():
        q["acceptance_rate"] = round(q["accepted"] / (q["accepted"] + q["rejected"]), 4)
    total = len(acc) + len(rej)
    return {
        "accepted": len(acc), "rejected": len(rej),
        "acceptance_rate": round(len(acc) / total, 4) if total else None,
        "retried": sum(map(retried, acc + rej)),
        "accepted_after_retry": sum(map(retried, acc)),
        "rejected_by_reason": dict(Counter(r.get("category", "?") for r in rej).most_common()),
        "per_query": dict(sorted(per_query.items(), key=lambda kv: -(kv[1]["accepted"] + kv[1]["rejected"]))),
    }


def summary_lines(summary: dict, top_queries: int = 10) -> list[str]:
    """The summary as short lines for stderr (the JSON report holds every query)."""
    lines = [
        f"accepted {summary['accepted']}, rejected {summary['rejected']} "
        f"(acceptance {summary['acceptance_rate']}), retried {summary['retried']} "
        f"(of which accepted {summary['accepted_after_retry']})",
    ]
    if summary["rejected_by_reason"]:
        lines.append("rejected by reason: " + ", ".join(f"{k} {v}" for k, v in summary["rejected_by_reason"].items()))
    queries = list(summary["per_query"].items())
    for q, s in queries[:top_queries]:
        lines.append(f"  query {q!r}: accepted {s['accepted']}, rejected {s['rejected']}")
    if len(queries) > top_queries:
        lines.append(f"  ({len(queries) - top_queries} more queries in the report)")
    return lines


def annotate_pairs(config: AnnotateConfig, progress=None, warn=print, annotator=None) -> dict:
    """Annotate every labelled pair of ``config.pairs`` not yet in ``--out`` or its rejects file.

    ``progress(done, total)`` is called after each round is on disk. ``annotator`` overrides the
    one ``config`` names (anything with ``name``, ``complete`` and ``stats``).
    Returns the summary also written to ``<out stem>.annotate_report.json``.
    """

    started = time.time()
    out, rejects = Path(config.out), rejects_path(config.out)
    if out.resolve() in (Path(config.pairs).resolve(), rejects.resolve()):
        raise ValueError(f"--out {out} would overwrite the input or its rejects file; choose another path")
    if config.retries and config.temperature == 0:
        warn("note: --temperature 0 samples the same text again, so --retries only repeats a rejected output; use a temperature > 0")
    pairs = load_pairs(Path(config.pairs), check_images="decode", require="label")
    done = prepare_output(config, pairs, warn, what="annotations")
    done |= prepare_output(dataclasses.replace(config, out=str(rejects)), pairs, warn, what="rejects")
    todo = [p for p in pairs if p.id not in done]
    run = {"pairs": len(pairs), "already_done": len(done), "annotated_now": 0, "accepted_now": 0, "rejected_now": 0}
    if todo and annotator is None:
        annotator = make_annotator(config, warn=warn)
    for chunk in in_batches(todo, config.batch_size, len(done), len(pairs), progress):
        seed = config.seed + zlib.crc32("\n".join(p.id for p in chunk).encode())
        accepted, rejected = annotate_round(annotator, chunk, config, seed)
        if accepted:
            append_lines(out, accepted)
        if rejected:
            append_lines(rejects, rejected)
        run["annotated_now"] += len(chunk)
        run["accepted_now"] += len(accepted)
        run["rejected_now"] += len(rejected)
    run["seconds"] = round(time.time() - started, 2)
    if annotator is not None:
        run.update(annotator.stats())
    summary = {**summarize(out, rejects), "run": run, "out": str(out), "rejects": str(rejects)}
    write_json_atomic(report_path(out), {
        "stage": "annotate", "prompt_version": prompt_version(config),
        "annotator": getattr(annotator, "name", config.annotator),
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "versions": versions(), "results": summary,
    })
    return summary
