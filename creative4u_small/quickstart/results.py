"""Gather the quickstart's measured outputs into ``report.html`` and ``results.json``."""

from __future__ import annotations

import json
from pathlib import Path

from creative4u_small.contract.artifacts import write_json_atomic
from creative4u_small.quickstart.report import contact_sheet, write_report
from creative4u_small.runtime.selector import Selector


def _read(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the stage that writes it did not finish — rerun the quickstart")
    return json.loads(path.read_text())


def results(out: Path, timings: dict) -> dict:
    """The headline figures, from the files the stages wrote."""
    student = _read(out / "eval" / "student.json")
    manifest = _read(out / "export" / "manifest.json")
    rank = _read(out / "rank.json")
    bench = _read(out / "bench.json") if (out / "bench.json").is_file() else {}
    teacher_block = student.get("teacher", {})
    return {
        "student_rationale": rationale_summary((student.get("generation") or {}).get("rationale")),
        "teacher_rationale": rationale_summary(student.get("teacher_rationales")),
        "teacher": {"accuracy": teacher_block.get("teacher_accuracy")},
        "student": {
            "accuracy": student.get("accuracy"),
            "teacher_agreement": teacher_block.get("agreement"),
            "order_consistency": student.get("order_consistency"),
            "ece": student.get("ece"),
            "n": student.get("pairs"),
        },
        "export_status": manifest.get("status"),
        "parity": manifest.get("parity", {}),
        "rank": {"order": rank["order"], "scores": rank["scores"], "comparisons": len(rank["comparisons"]),
                 "strategy": rank.get("strategy"), "images_encoded": rank.get("images_encoded")},
        "bench_ratios": bench.get("ratios", {}),
        "timings_s": timings,
        "total_s": round(sum(timings.values()), 1),
    }


def rationale_summary(block: dict | None) -> dict:
    """The headline explanation figures of one ``rationale_metrics`` block (``c4u eval``)."""
    if not block:
        return {}
    pick = lambda name, key: (block.get(name) or {}).get(key)  # noqa: E731
    return {
        "outputs": block.get("outputs"),
        "strict_parse_rate": block.get("strict_parse_rate"),
        "q10_equals_verdict": block.get("q10_equals_verdict"),
        "teacher_q3_q9": pick("teacher_agreement", "mean_q3_q9"),
        "truth_q3_q9": pick("truth_agreement", "mean_q3_q9"),
        "text_consistency": pick("text_consistency", "rate"),
    }


def _explanation(out: Path, order: list[str], query: str) -> tuple[str, dict | None]:
    """Why the top creative beats the runner-up: the verdict line and the parsed explanation (torch-free runtime)."""

    selector = Selector.load(out / "export", backend="cpu")
    result = selector.compare(order[0], order[1], query=query, explain=True)
    line = (f"Verdict: Creative {'A (#1)' if result.winner == 'A' else 'B (#2)'}, p_a = {result.p_a:.3f} "
            f"({selector.precision} graphs).")
    ex = result.explanation
    return line, None if ex is None else {**ex.to_dict(), "rows": ex.rows()}


def build_report(out: Path, timings: dict) -> Path:
    out = Path(out)
    res = results(out, timings)
    write_json_atomic(out / "results.json", res)
    order = res["rank"]["order"]
    query = json.loads((out / "rank_query.json").read_text())["query"] if (out / "rank_query.json").is_file() else ""
    sheet = contact_sheet([Path(p) for p in order], [res["rank"]["scores"][p] for p in order])
    sheet.save(out / "ranked_pool.png")
    metrics = {k: res[k] for k in ("teacher", "student", "student_rationale", "teacher_rationale")}
    verdict_line, explanation = _explanation(out, order, query)
    ranked = {"query": query, "order": order, "comparisons": res["rank"]["comparisons"], "verdict_line": verdict_line}
    return write_report(
        out / "report.html", metrics=metrics, parity=res["parity"], ranked=ranked, sheet=sheet,
        explanation=explanation, latency_png=out / "latency.png", timings=timings, bench_ratios=res["bench_ratios"],
    )
