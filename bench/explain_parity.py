"""The exported rationale against PyTorch greedy decoding, token for token (`explain_parity.py`): where they first
differ and the PyTorch logit margin there (a near tie is rounding; a wide margin would be a bug)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from creative4u_small.contract.pairs import load_pairs
from creative4u_small.contract.settings import setting
from creative4u_small.modeling.checkpoint import load_model
from creative4u_small.modeling.scorer import build_judge_batch
from creative4u_small.runtime.selector import Selector


@dataclass(frozen=True)
class ExplainParityConfig:
    export: Path = setting(help="Export folder with the decoder graphs (fp32 and INT8).")
    model: Path = setting(help="The PyTorch student the export was made from.")
    pairs: Path = setting(help="CreativePair JSONL whose first --n pairs are explained.")
    n: int = setting(20, "Pairs explained.")
    max_new_tokens: int = setting(256, "Longest rationale decoded by each side.")
    backends: tuple[str, ...] = setting(("cpu",), "Engines whose rationales are decoded (e.g. cpu,openvino): each against "
                                        "PyTorch, and each after the first against the first, token for token.")


def torch_greedy(model, processor, pair, forced: list[int], eos: set[int], max_new_tokens: int):
    """PyTorch greedy tokens after ``forced`` and the top-1/top-2 logit margin at every step."""
    import torch

    batch = build_judge_batch(processor, [(pair.image_a, pair.image_b, pair.query, pair.title)], orders=("AB",))
    ids = torch.cat([batch.input_ids, torch.tensor([forced])], 1)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=batch.pixel_values[None],
                             max_new_tokens=max_new_tokens, do_sample=False, output_scores=True, return_dict_in_generate=True)
    tokens = out.sequences[0, ids.shape[1]:].tolist()
    margins = [float((s[0].topk(2).values[0] - s[0].topk(2).values[1])) for s in out.scores]
    cut = next((k for k, t in enumerate(tokens) if t in eos), len(tokens))
    return tokens[:cut], margins[:cut + 1]


def first_difference(pair, ours: list[int], theirs: list[int], margins: list[float]) -> dict:
    """Where two token sequences first differ, their lengths, and PyTorch's margin there."""
    k = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    return {"id": pair.id, "first_diff_token": k, "runtime_len": len(ours), "torch_len": len(theirs),
            "torch_margin_at_diff": round(margins[k], 4) if k < len(margins) else None}


def explain_parity(cfg: ExplainParityConfig) -> dict:
    """Per engine and precision: pairs whose runtime rationale equals PyTorch's greedy one, where the others
    differ, and (after the first engine) how many equal the first engine's rationale."""
    pairs = load_pairs(cfg.pairs, check_images="exists")[: cfg.n]
    model, processor, _ = load_model(cfg.model)
    report, first = {}, {}
    for backend in cfg.backends:
        for precision in ("fp32", "int8"):
            sel = Selector.load(cfg.export, backend=backend, precision=precision, max_new_tokens=cfg.max_new_tokens)
            spec = sel.manifest.prompt
            eos = set(spec.eos_token_ids)
            same, diffs, tokens = 0, [], []
            for p in pairs:
                winner = sel.compare(p.image_a, p.image_b, p.query, p.title).winner
                forced = [spec.verdict_token_ids[0 if winner == "A" else 1], *spec.answer_close_ids]
                ours = sel.rationale_tokens(sel.tokenizer.judge_ids(p.query, p.title), *sel.embed([p.image_a, p.image_b]), winner)
                theirs, margins = torch_greedy(model, processor, p, forced, eos, cfg.max_new_tokens)
                tokens.append(ours)
                if ours == theirs:
                    same += 1
                else:
                    diffs.append(first_difference(p, ours, theirs, margins))
            key = precision if len(cfg.backends) == 1 else f"{backend}:{precision}"
            report[key] = {"pairs": len(pairs), "identical": same, "differ": diffs}
            if precision in first:
                report[key][f"identical_to_{cfg.backends[0]}"] = sum(a == b for a, b in zip(tokens, first[precision]))
            else:
                first[precision] = tokens
            print(json.dumps({key: report[key]}), flush=True)
    return report
