"""How good are `c4u data annotate` rationales? Acceptance, and protocol lines against the renderer's truth.

Annotates the first ``--n`` pairs of a synthetic CreativePair file with ``--annotator`` (a trained
teacher folder, or an endpoint URL) and compares each accepted rationale's protocol lines Q1–Q9
with the synthetic ground truth: the renderer writes every pair's rationale from its hidden
factors (``creative4u_small.data.synth.rationale``), so the input file's ``rationale`` is the truth.
Reports the acceptance rate, rejects by reason, per-question agreement, the share of accepted
rationales whose every line matches, and agreement on the decisive lines (truth not ``A=B``).
Prints one JSON line last (with the CPU model and flags).

    python benchmarks/annotate_agreement.py --annotator /tmp/qfull/models/teacher \\
        --pairs /tmp/qfull/data/heldout/pairs.jsonl --n 300 --work /tmp/c4u_annotate --prompt annotate
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path


def cpu() -> dict:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {"model": platform.processor()}
    info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = set(info.get("Flags", "").split())
    return {"model": info.get("Model name", "").strip(), "cpus": info.get("CPU(s)", "").strip(),
            "flags": sorted(f for f in flags if f in {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma", "amx_int8"})}


def subset(pairs: Path, n: int, dest: Path) -> Path:
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
    from creative4u_small.contract import protocol

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--annotator", required=True)
    ap.add_argument("--pairs", type=Path, required=True, help="synthetic CreativePair JSONL (its rationale is the truth)")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--work", type=Path, default=Path("/tmp/c4u_annotate_agreement"))
    ap.add_argument("--prompt", default="annotate", choices=("annotate", "teacher"))
    ap.add_argument("--orders", default="AB", choices=("AB", "BA", "both"))
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()

    from creative4u_small.distill.annotate.annotate import annotate_pairs
    from creative4u_small.distill.annotate.annotate_config import AnnotateConfig

    pairs = subset(args.pairs, args.n, args.work / "pairs.jsonl")
    truth = {json.loads(t)["id"]: json.loads(t)["rationale"] for t in pairs.read_text().splitlines() if t.strip()}
    out = args.work / f"cot_{args.prompt}_{args.orders}_t{args.temperature:g}_r{args.retries}.jsonl"
    cfg = AnnotateConfig(
        pairs=str(pairs), out=str(out), annotator=args.annotator, prompt=args.prompt, orders=args.orders,
        retries=args.retries, temperature=args.temperature, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
    )
    summary = annotate_pairs(cfg, progress=lambda d, t: print(f"{d}/{t}", flush=True))
    annotated = [json.loads(t) for t in out.read_text().splitlines() if t.strip()] if out.exists() else []
    result = {
        "annotator": args.annotator, "prompt": args.prompt, "orders": args.orders, "temperature": args.temperature,
        "retries": args.retries, "pairs": len(truth), "accepted": summary["accepted"], "rejected": summary["rejected"],
        "acceptance_rate": summary["acceptance_rate"], "accepted_after_retry": summary["accepted_after_retry"],
        "rejected_by_reason": summary["rejected_by_reason"], "seconds": summary["run"]["seconds"],
        "agreement_with_truth": agreement(truth, annotated), "cpu": cpu(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
