"""How good are `c4u data annotate` rationales (`annotate_agreement.py`)? Acceptance, and protocol lines against the
synthetic renderer's truth (the input file's ``rationale``, written from each pair's hidden factors)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.bench.machine import lscpu_summary
from creative4u_small.contract import protocol
from creative4u_small.contract.settings import setting
from creative4u_small.distill.annotate.annotate_config import AnnotateConfig


@dataclass(frozen=True)
class AnnotateAgreementConfig:
    CHOICES = {"prompt": ("annotate", "teacher"), "orders": ("AB", "BA", "both")}
    annotator: str = setting(help="A trained teacher folder, or an OpenAI-compatible endpoint URL.")
    pairs: Path = setting(help="Synthetic CreativePair JSONL (its rationale is the truth).")
    n: int = setting(300, "First pairs annotated.")
    work: Path = setting(Path("/tmp/c4u_annotate_agreement"), "Folder for the subset and the annotated file.")
    prompt: str = setting("annotate", "c4u data annotate --prompt.")
    orders: str = setting("AB", "c4u data annotate --orders.")
    retries: int = setting(2, "c4u data annotate --retries.")
    temperature: float = setting(0.7, "c4u data annotate --temperature.")
    max_new_tokens: int = setting(256, "c4u data annotate --max-new-tokens.")
    batch_size: int = setting(16, "c4u data annotate --batch-size.")


def subset(pairs: Path, n: int, dest: Path) -> Path:
    """The first ``n`` pairs of ``pairs`` in ``dest``, their image paths made absolute."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for text in pairs.read_text().splitlines():
        if text.strip() and len(lines) < n:
            rec = json.loads(text)
            for k in ("image_a", "image_b"):
                rec[k] = str((pairs.parent / rec[k]).resolve())
            lines.append(json.dumps(rec))
    dest.write_text("\n".join(lines) + "\n")
    return dest


def agreement(truth: dict[str, str], annotated: list[dict]) -> dict:
    """Per-question and whole-rationale agreement of accepted rationales with the true protocol lines."""
    keys = [q.key for q in protocol.QUESTIONS[:-1]]
    per_q = {k: [0, 0] for k in keys}
    decisive, exact = [0, 0], 0
    for rec in annotated:
        got = protocol.parse_teacher(rec["rationale"]).answers
        want = protocol.parse_teacher(truth[rec["id"]]).answers
        for k in keys:
            hit = got.get(k) == want.get(k)
            per_q[k][0] += hit
            per_q[k][1] += 1
            if want.get(k) not in ("A=B", "no", "yes"):
                decisive[0] += hit
                decisive[1] += 1
        exact += all(got.get(k) == want.get(k) for k in keys)
    n = len(annotated)
    return {
        "per_question": {k: round(a / b, 4) if b else None for k, (a, b) in per_q.items()},
        "all_lines_match": round(exact / n, 4) if n else None,
        "decisive_lines_match": round(decisive[0] / decisive[1], 4) if decisive[1] else None,
        "decisive_lines": decisive[1],
    }


def annotate_agreement(cfg: AnnotateAgreementConfig) -> dict:
    """Annotate the subset with ``cfg.annotator``; acceptance, rejects by reason, and agreement with the truth."""
    from creative4u_small.distill.annotate.annotate import annotate_pairs

    pairs = subset(cfg.pairs, cfg.n, cfg.work / "pairs.jsonl")
    truth = {json.loads(t)["id"]: json.loads(t)["rationale"] for t in pairs.read_text().splitlines() if t.strip()}
    out = cfg.work / f"cot_{cfg.prompt}_{cfg.orders}_t{cfg.temperature:g}_r{cfg.retries}.jsonl"
    summary = annotate_pairs(AnnotateConfig(pairs=str(pairs), out=str(out), annotator=cfg.annotator, prompt=cfg.prompt, orders=cfg.orders,
                                            retries=cfg.retries, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens,
                                            batch_size=cfg.batch_size),
                             progress=lambda d, t: print(f"{d}/{t}", flush=True))
    annotated = [json.loads(t) for t in out.read_text().splitlines() if t.strip()] if out.exists() else []
    return {
        "annotator": cfg.annotator, "prompt": cfg.prompt, "orders": cfg.orders, "temperature": cfg.temperature,
        "retries": cfg.retries, "pairs": len(truth), "accepted": summary["accepted"], "rejected": summary["rejected"],
        "acceptance_rate": summary["acceptance_rate"], "accepted_after_retry": summary["accepted_after_retry"],
        "rejected_by_reason": summary["rejected_by_reason"], "seconds": summary["run"]["seconds"],
        "agreement_with_truth": agreement(truth, annotated), "cpu": lscpu_summary(),
    }
