"""`c4u eval`: how well a teacher or student picks creatives, judged from its verdict tokens.

Every pair is scored in both image orders with the shared verdict scorer. Reported: accuracy
against labels, order consistency (same winner in both orders), agreement with the teacher
where records carry one, expected calibration error of ``p_a``, a per-query breakdown and, for
the first ``generate`` pairs, the parse-failure rate of freely generated outputs and their
rationale figures (``rationale_metrics``: strict parses, Q10 = verdict, agreement with the
teacher's and the true protocol lines, free text consistent with the lines). Where the records
carry the teacher's kept rationales, the same figures for those (``teacher_rationales``).

Expected calibration error (ECE): the prediction is the creative with ``p >= 0.5`` and its
confidence ``c = max(p_a, 1 - p_a)``; confidences fall into 10 equal-width bins over [0, 1]
(a binary judge only fills the upper five) and ECE = sum over bins of
``n_bin / N * |accuracy_bin - mean confidence_bin|`` (Guo et al., 2017).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from creative4u_small.contract import protocol
from creative4u_small.contract.artifacts import write_json_atomic
from creative4u_small.contract.images import open_image
from creative4u_small.contract.pairs import load_pairs
from creative4u_small.distill.evaluate.eval_config import FORMATS, EvalConfig
from creative4u_small.distill.evaluate.rationale_metrics import label_rationale_metrics, output_format, rationale_metrics
from creative4u_small.distill.student.distill_config import STAGE as DISTILL_STAGE
from creative4u_small.distill.training_run import stage_of
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.modeling.judge_prompt import judge_text, prompt_chat_text
from creative4u_small.modeling.scorer import VerdictScorer


def expected_calibration_error(p_a, outcomes, bins: int = 10) -> float | None:
    """ECE of ``p_a`` (P(Creative A wins)) against outcomes "A"/"B"; None without outcomes."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    if len(p_a) != len(outcomes):
        raise ValueError("p_a and outcomes differ in length")
    if not outcomes:
        return None
    sums = defaultdict(lambda: [0, 0.0, 0.0])  # count, confidence sum, correct sum
    for p, y in zip(p_a, outcomes):
        conf = max(p, 1.0 - p)
        pred = "A" if p >= 0.5 else "B"
        b = sums[min(int(conf * bins), bins - 1)]
        b[0] += 1
        b[1] += conf
        b[2] += float(pred == y)
    n = len(outcomes)
    return sum(c / n * abs(ok / c - conf / c) for c, conf, ok in sums.values())


def _rate(flags) -> float | None:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def verdict_metrics(pairs, verdicts) -> dict:
    """Metrics of one set of verdicts (``scorer.Verdict``) on the pairs they score."""
    labelled = [(p, v) for p, v in zip(pairs, verdicts) if p.label is not None]
    taught = [(p, v) for p, v in zip(pairs, verdicts) if p.teacher is not None]
    out = {
        "pairs": len(pairs),
        "labelled": len(labelled),
        "accuracy": _rate(v.winner == p.label for p, v in labelled),
        "order_consistency": _rate(v.consistent for v in verdicts),
        "ece": expected_calibration_error([v.p_a for _, v in labelled], [p.label for p, _ in labelled]),
        "mean_p_first_shown": _rate(
            p if i == 0 else 1.0 - p for v in verdicts for i, p in enumerate(v.p_a_orders)
        ),
    }
    if taught:
        out["teacher"] = {
            "pairs": len(taught),
            "agreement": _rate(v.winner == p.teacher.verdict for p, v in taught),
            "ece_vs_teacher": expected_calibration_error([v.p_a for _, v in taught], [p.teacher.verdict for p, _ in taught]),
            "mean_abs_p_a_gap": _rate(abs(v.p_a - p.teacher.p_a) for p, v in taught),
            "teacher_accuracy": _rate(p.teacher.verdict == p.label for p, _ in taught if p.label is not None),
        }
    return out


def per_query(pairs, verdicts) -> dict:
    groups = defaultdict(list)
    for p, v in zip(pairs, verdicts):
        groups[p.query].append((p, v))
    return {
        q: {
            "pairs": len(rows),
            "accuracy": _rate(v.winner == p.label for p, v in rows if p.label is not None),
            "order_consistency": _rate(v.consistent for _, v in rows),
        }
        for q, rows in sorted(groups.items())
    }


def parse_output(text: str, fmt: str = "auto"):
    """Parse a generated output as the student (answer-first) or teacher (reason-first) format."""
    if output_format(text, fmt) == "student":
        return protocol.parse_student(text)
    return protocol.parse_teacher(text)


def generate_outputs(model, processor, pairs, max_new_tokens: int = 256, batch_size: int = 8, fmt: str = "teacher",
                     verdicts: list[str] | None = None, progress=None) -> list[str]:
    """Greedy completions of the judge prompt, cut at the end of turn.

    A teacher writes its turn from the start. A student is decoded as the runtime decodes it: its
    verdict is read from the verdict tokens (only those two logits are trained at ``<answer>``),
    so ``<answer>X</answer>`` with X from ``verdicts`` is forced and the rationale generated after
    it; the returned text starts with that prefix. ``progress(done, total, "eval generate")`` follows the batches.
    """
    import torch

    if fmt not in ("student", "teacher"):
        raise ValueError(f"format must be student or teacher, got {fmt!r}")
    if fmt == "student" and (verdicts is None or len(verdicts) != len(pairs)):
        raise ValueError("a student's rationale is generated after its verdict: pass one verdict per pair")
    if fmt == "student" and any(v not in protocol.VERDICTS for v in verdicts):
        raise ValueError(f"verdicts must be one of {protocol.VERDICTS}")
    forced = [f"{v}{protocol.ANSWER_CLOSE}" for v in verdicts] if fmt == "student" else [""] * len(pairs)

    def text_of(k: int, p) -> str:
        return judge_text(processor, p.query, p.title) + forced[k] if fmt == "student" else prompt_chat_text(processor, p.query, p.title)

    tok = processor.tokenizer
    eos = {i for i in [tok.eos_token_id, tok.convert_tokens_to_ids("<end_of_utterance>")] if isinstance(i, int) and i >= 0}
    old_side, tok.padding_side = tok.padding_side, "left"
    texts = []
    try:
        for i in range(0, len(pairs), batch_size):
            chunk = pairs[i: i + batch_size]
            inputs = processor(
                text=[text_of(i + j, p) for j, p in enumerate(chunk)],
                images=[[open_image(p.image_a), open_image(p.image_b)] for p in chunk],
                return_tensors="pt", padding=True,
            ).to(model.device)
            with torch.inference_mode():
                out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                     eos_token_id=sorted(eos) or None, pad_token_id=tok.pad_token_id)
            for j, row in enumerate(out[:, inputs["input_ids"].shape[1]:].tolist()):
                cut = next((k for k, t in enumerate(row) if t in eos), len(row))
                lead = protocol.ANSWER_OPEN + forced[i + j] if fmt == "student" else ""
                texts.append(lead + tok.decode(row[:cut], skip_special_tokens=False).replace(tok.pad_token or "\x00", ""))
            if progress is not None:
                progress(len(texts), len(pairs), "eval generate")
    finally:
        tok.padding_side = old_side
    return texts


def model_format(model_dir: str | Path, fmt: str = "auto") -> str:
    """``fmt``, or for ``"auto"``: student when the folder (or the run above its ``checkpoints/``) was distilled."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be auto, student or teacher, got {fmt!r}")
    if fmt != "auto":
        return fmt
    folder = Path(model_dir)
    runs = [folder] + ([folder.parent.parent] if folder.parent.name == "checkpoints" else [])
    return "student" if any(stage_of(d) == DISTILL_STAGE for d in runs) else "teacher"


def generation_metrics(pairs, verdicts, texts, fmt: str = "auto") -> dict:
    parsed = [parse_output(t, fmt) for t in texts]
    reasons = defaultdict(int)
    for r in parsed:
        if isinstance(r, protocol.ParseError):
            reasons[r.reason] += 1
    ok = [(p, v, r) for p, v, r in zip(pairs, verdicts, parsed) if not isinstance(r, protocol.ParseError)]
    return {
        "generated": len(texts),
        "parse_failure_rate": _rate(isinstance(r, protocol.ParseError) for r in parsed),
        "failure_reasons": dict(reasons),
        "agreement_with_verdict_tokens": _rate(r.verdict == v.winner for _, v, r in ok),
        "accuracy_of_parsed": _rate(r.verdict == p.label for p, _, r in ok if p.label is not None),
        "rationale": rationale_metrics(pairs, texts, fmt),
        "examples": texts[:3],
    }


def evaluate_pairs(model, processor, verdict_ids, pairs, batch_size: int = 16, generate: int = 0,
                   max_new_tokens: int = 256, fmt: str = "auto", progress=None) -> dict:
    """Score ``pairs`` in both orders (and generate for the first ``generate``); returns the report."""

    if generate < 0:
        raise ValueError("generate must be >= 0")
    scorer = VerdictScorer(model, processor, verdict_ids, batch_size=batch_size)
    verdicts = []
    for i in range(0, len(pairs), batch_size):
        verdicts += scorer.score_pairs(pairs[i: i + batch_size])
        if progress is not None:
            progress(len(verdicts), len(pairs))
    report = verdict_metrics(pairs, verdicts)
    report["per_query"] = per_query(pairs, verdicts)
    if any(p.teacher is not None and p.teacher.rationales for p in pairs):
        report["teacher_rationales"] = label_rationale_metrics(pairs)
    if generate:
        n = min(generate, len(pairs))
        gen_fmt = fmt if fmt != "auto" else "teacher"
        texts = generate_outputs(model, processor, pairs[:n], max_new_tokens, batch_size, gen_fmt, [v.winner for v in verdicts[:n]],
                                 progress)
        report["generation"] = generation_metrics(pairs[:n], verdicts[:n], texts, gen_fmt)
    return report


def evaluate_model(cfg: EvalConfig, progress=None) -> dict:
    """Load a checkpoint (safetensors only) and the pairs, ``evaluate_pairs``, and write ``cfg.out`` if given."""

    pairs = load_pairs(Path(cfg.pairs), check_images="exists")
    model, processor, ids = load_model(cfg.model)
    fmt = model_format(cfg.model, cfg.format)
    report = evaluate_pairs(model, processor, ids, pairs, cfg.batch_size, cfg.generate, cfg.max_new_tokens, fmt, progress)
    report = {"model": str(cfg.model), "pairs_file": str(cfg.pairs), **report}
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(Path(cfg.out), report)
    return report
