"""The exported rationale (KV-cache decoder graphs, fp32 and INT8) against PyTorch greedy decoding, token for token.

For each of the first ``--n`` pairs the runtime's verdict is forced (``<answer>X</answer>``), as
``Selector.compare(explain=True)`` does, and the rationale is decoded greedily by the decoder graphs
of each precision and by ``transformers`` ``generate`` on the same prompt + forced prefix. Reported
per precision: pairs whose token sequences are identical, and for the others where they first
differ and the PyTorch logit margin (top-1 minus top-2) at that step: a divergence at a near tie
is rounding (INT8 weights, fp32 kernel order), one at a wide margin would be a bug.

    python benchmarks/explain_parity.py --export quickstart_out/export --model quickstart_out/models/student \\
        --pairs quickstart_out/data/heldout/pairs.jsonl --n 20
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def torch_greedy(model, processor, pair, forced: list[int], eos: set[int], max_new_tokens: int):
    """PyTorch greedy tokens after ``forced`` and the top-1/top-2 logit margin at every step."""
    import torch

    from creative4u_small.modeling.scorer import build_judge_batch

    batch = build_judge_batch(processor, [(pair.image_a, pair.image_b, pair.query, pair.title)], orders=("AB",))
    ids = torch.cat([batch.input_ids, torch.tensor([forced])], 1)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=batch.pixel_values[None],
                             max_new_tokens=max_new_tokens, do_sample=False, output_scores=True, return_dict_in_generate=True)
    tokens = out.sequences[0, ids.shape[1]:].tolist()
    margins = [float((s[0].topk(2).values[0] - s[0].topk(2).values[1])) for s in out.scores]
    cut = next((k for k, t in enumerate(tokens) if t in eos), len(tokens))
    return tokens[:cut], margins[:cut + 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True, help="The PyTorch student the export was made from.")
    ap.add_argument("--pairs", type=Path, required=True)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    args = ap.parse_args()

    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.runtime.selector import Selector

    pairs = load_pairs(args.pairs, check_images="exists")[: args.n]
    model, processor, _ = load_model(args.model)
    report = {}
    for precision in ("fp32", "int8"):
        sel = Selector.load(args.export, backend="cpu", precision=precision, max_new_tokens=args.max_new_tokens)
        spec = sel.manifest.prompt
        eos = set(spec.eos_token_ids)
        same, diffs = 0, []
        for p in pairs:
            winner = sel.compare(p.image_a, p.image_b, p.query, p.title).winner
            forced = [spec.verdict_token_ids[0 if winner == "A" else 1], *spec.answer_close_ids]
            ours = sel.rationale_tokens(sel.tokenizer.judge_ids(p.query, p.title), *sel.embed([p.image_a, p.image_b]), winner)
            theirs, margins = torch_greedy(model, processor, p, forced, eos, args.max_new_tokens)
            if ours == theirs:
                same += 1
                continue
            k = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            diffs.append({"id": p.id, "first_diff_token": k, "runtime_len": len(ours), "torch_len": len(theirs),
                          "torch_margin_at_diff": round(margins[k], 4) if k < len(margins) else None})
        report[precision] = {"pairs": len(pairs), "identical": same, "differ": diffs}
        print(json.dumps({precision: report[precision]}), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
