"""Parity of exported graphs against the PyTorch verdict scorer, and the parity report.

The reference is ``scorer`` (what training, labelling and evaluation use). The exported
side runs the vision and judge graphs in ONNX Runtime from the same preprocessed batch, so a
difference is the graphs' alone. Agreement is counted over pairs where the reference is decisive;
too few decisive pairs make the result "unverified" — never "passed".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from creative4u_small.contract.verdict_prob import p_a
from creative4u_small.modeling.scorer import build_judge_batch, verdict_logits
from creative4u_small.runtime import manifest as mf

ORDERS = ("AB", "BA")


@dataclass(frozen=True)
class Floors:
    agreement: float
    max_dp: float | None = None  # ceiling on max |delta p_a|; None = not checked


def compare(reference: np.ndarray, exported: np.ndarray, floors: Floors, margin: float, min_decisive: int) -> dict:
    """Figures and status for one precision: rows/pairs, decisive count, agreement, max deltas."""
    reference, exported = np.asarray(reference, np.float64), np.asarray(exported, np.float64)
    if reference.shape != exported.shape:
        raise ValueError(f"parity: reference logits {reference.shape} and exported {exported.shape} differ in shape")
    pr, pe = p_a(reference), p_a(exported)
    decisive = np.abs(pr - 0.5) >= margin
    n_dec = int(decisive.sum())
    agree = int(((pr >= 0.5) == (pe >= 0.5))[decisive].sum())
    agreement = agree / n_dec if n_dec else None
    figures = {
        "pairs": int(pr.shape[0]),
        "rows": int(reference.shape[0]),
        "decisive": n_dec,
        "agreeing": agree,
        "agreement": agreement,
        "max_abs_dlogit": float(np.abs(reference - exported).max()) if reference.size else 0.0,
        "max_abs_dp_a": float(np.abs(pr - pe).max()) if pr.size else 0.0,
        "margin": margin,
        "min_decisive": min_decisive,
        "floor_agreement": floors.agreement,
        "floor_max_dp_a": floors.max_dp,
    }
    problems = []
    if agreement is not None and agreement < floors.agreement:
        problems.append(f"verdict agreement {agreement:.2%} ({agree}/{n_dec}) is below the floor {floors.agreement:.2%}")
    if floors.max_dp is not None and figures["max_abs_dp_a"] > floors.max_dp:
        problems.append(f"max |delta p_a| {figures['max_abs_dp_a']:.2e} is above the ceiling {floors.max_dp:.0e}")
    if problems:
        figures["status"], figures["reason"] = "failed", "; ".join(problems)
    elif n_dec < min_decisive:
        figures["status"] = "unverified"
        figures["reason"] = (f"only {n_dec} of {figures['pairs']} pairs are decisive (|p_a - 0.5| >= {margin}); at least "
                             f"{min_decisive} are needed to vouch for the verdicts — the model looks untrained, so agreement "
                             "was not verified")
    else:
        figures["status"], figures["reason"] = "passed", ""
    return figures


def failed_run(reference: np.ndarray, floors: Floors, margin: float, min_decisive: int, reason: str,
               status: str = "failed") -> dict:
    """Figures for an exported path that could not run at all: the reference's real pair and decisive
    counts, no agreement and no deltas (nothing was computed to compare), status failed (or unverified
    where running it here was never expected)."""
    pr = p_a(np.asarray(reference, np.float64))
    return {"pairs": int(pr.shape[0]), "rows": int(np.asarray(reference).shape[0]),
            "decisive": int((np.abs(pr - 0.5) >= margin).sum()), "agreeing": 0, "agreement": None,
            "max_abs_dlogit": None, "max_abs_dp_a": None, "margin": margin, "min_decisive": min_decisive,
            "floor_agreement": floors.agreement, "floor_max_dp_a": floors.max_dp, "status": status, "reason": reason}


def overall_status(parity: dict) -> str:
    """failed if any precision failed; passed only if every precision passed; else unverified."""
    states = [v["status"] for v in parity.values()]
    if not states:
        return "unverified"
    if "failed" in states:
        return "failed"
    return "passed" if all(s == "passed" for s in states) else "unverified"


class VerdictDriver:
    """The verdict path every exported engine shares: vision once per distinct image, then the judge on its rows.
    Subclasses say how one engine runs each graph (``image_embeds``, ``judge_logits``)."""

    def image_embeds(self, pixel_values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def judge_logits(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def logits(self, input_ids, attention_mask, pixel_values, image_index) -> np.ndarray:
        emb = self.image_embeds(np.asarray(pixel_values))
        index = np.asarray(image_index)
        rows = emb[index].reshape(index.shape[0], -1, emb.shape[-1])
        return self.judge_logits(dict(zip(mf.JUDGE_INPUTS, (np.asarray(input_ids, np.int64), np.asarray(attention_mask, np.int64), rows))))


class OrtVerdictDriver(VerdictDriver):
    """A minimal numpy + onnxruntime verdict path.

    ``reference_semantics`` turns ONNX Runtime's graph optimisations off, so Q/DQ graphs run as
    written (dequantize, then float MatMul): the arithmetic TensorRT performs, on any CPU, instead
    of the CPU's own fused INT8 kernels.
    """

    def __init__(self, vision: Path, judge: Path, providers=("CPUExecutionProvider",), threads: int = 0,
                 reference_semantics: bool = False):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        if reference_semantics:
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.log_severity_level = 3
        self.vision = ort.InferenceSession(str(vision), opts, providers=list(providers))
        self.judge = ort.InferenceSession(str(judge), opts, providers=list(providers))

    def image_embeds(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.vision.run([mf.VISION_OUTPUTS[0]], {mf.VISION_INPUTS[0]: pixel_values.astype(np.float32)})[0]

    def judge_logits(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.judge.run([mf.JUDGE_OUTPUTS[0]], feeds)[0]


def batches(processor, items, batch_size: int, orders=ORDERS):
    for i in range(0, len(items), batch_size):
        yield build_judge_batch(processor, items[i: i + batch_size], orders)


def reference_logits(model, processor, verdict_ids, items, batch_size: int, progress=None) -> np.ndarray:
    """[P * 2, 2] PyTorch scorer logits, pair-major, both orders."""
    import torch

    out = []
    with torch.inference_mode():
        for b in batches(processor, items, batch_size):
            out.append(verdict_logits(model, b, verdict_ids).float().numpy())
            if progress:
                progress(len(out) * batch_size)
    return np.concatenate(out)


def exported_logits(driver: VerdictDriver, processor, items, batch_size: int) -> np.ndarray:
    out = []
    for b in batches(processor, items, batch_size):
        pv = b.pixel_values.numpy()
        if b.pixel_attention_mask is not None and not bool(b.pixel_attention_mask.all()):
            raise ValueError("the processor padded an image (partial pixel mask); the exported vision graph takes full "
                             "square frames only — keep do_image_splitting=False and a square max_image_size")
        out.append(driver.logits(b.input_ids.numpy(), b.attention_mask.numpy(), pv, b.image_index.numpy()))
    return np.concatenate(out)


def parity_markdown(parity: dict, status: str, source: str, shift: dict | None = None) -> str:
    """The human-readable parity report; a failed or unverified export says so in its first lines; then the INT8
    variants on the distribution-shift set."""
    verdict = {
        "passed": "PASSED: the exported graphs reproduce the PyTorch verdicts within every floor.",
        "unverified": "UNVERIFIED: too few decisive pairs to vouch for the verdicts (numeric deltas are within their "
                      "ceilings). Do not treat this export as checked; re-export a trained model.",
        "failed": "FAILED: the exported graphs do not reproduce the PyTorch verdicts. Do not use this export.",
    }[status]
    lines = [f"# Parity report — {status.upper()}", "", verdict, "", f"Source model: `{source}`", "",
             "| precision | graphs | pairs | decisive | agreement | max abs dlogit | max abs dp_a | status |",
             "|---|---|---|---|---|---|---|---|"]
    for prec, f in parity.items():
        agreement = "n/a" if f["agreement"] is None else f"{f['agreement']:.2%} ({f['agreeing']}/{f['decisive']})"
        dlogit, dp_a = ("n/a" if f[k] is None else f"{f[k]:.3e}" for k in ("max_abs_dlogit", "max_abs_dp_a"))
        lines.append(f"| {prec} | {', '.join(f.get('graphs', []))} | {f['pairs']} | {f['decisive']} | {agreement} | "
                     f"{dlogit} | {dp_a} | {f['status']} |")
    lines += ["", "Floors: decisive = PyTorch |p_a - 0.5| >= margin; agreement floor per precision; "
              "each precision also caps max |dp_a| (the INT8 ceiling is --int8-max-dp).", ""]
    for prec, f in parity.items():
        floor_dp = "none" if f["floor_max_dp_a"] is None else f"{f['floor_max_dp_a']:.0e}"
        lines.append(f"- {prec}: margin {f['margin']}, min decisive {f['min_decisive']}, agreement floor "
                     f"{f['floor_agreement']:.2%}, max |dp_a| ceiling {floor_dp}" + (f" — {f['reason']}" if f.get("reason") else ""))
    return "\n".join(lines + shift_markdown(shift or {})) + "\n"


def shift_markdown(shift: dict) -> list[str]:
    """The shift gate's table: INT8 against fp32 on creatives unlike the calibration set (backend auto skips a failure)."""
    if not shift.get("variants"):
        return []
    c = shift["ceilings"]
    lines = ["", f"## INT8 on the distribution-shift set ({shift['pairs']} pairs)", "",
             f"Against {shift['reference']}. Ceilings: agreement >= {c['agreement']:.2%}, p99 |dp_a| <= {c['p99_abs_dp_a']:g}, "
             f"max |dp_a| <= {c['max_abs_dp_a']:g}. A variant that fails is not picked by backend auto.", "",
             "| variant | decisive | agreement | median abs dp_a | p99 abs dp_a | max abs dp_a | status |", "|---|---|---|---|---|---|---|"]
    for key, f in shift["variants"].items():
        agreement = "n/a" if f["agreement"] is None else f"{f['agreement']:.2%}"
        lines.append(f"| {key} | {f['decisive']} | {agreement} | {f['median_abs_dp_a']:.2e} | {f['p99_abs_dp_a']:.2e} | "
                     f"{f['max_abs_dp_a']:.2e} | {f['status']}{' — ' + f['reason'] if f['reason'] else ''} |")
    return lines


def decoder_check(model, processor, items, folder: Path, entries: dict, threads: int = 0) -> dict:
    """ORT prefill + one greedy step against the PyTorch wrappers on a small padded batch."""
    import onnxruntime as ort
    import torch

    from creative4u_small.export.wrappers import PrefillGraph, StepGraph, VisionGraph  # torch: only the decoder check needs it

    batch = next(batches(processor, items, len(items)))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    prefill = ort.InferenceSession(str(folder / entries[mf.DECODER_PREFILL].file), opts, providers=["CPUExecutionProvider"])
    step = ort.InferenceSession(str(folder / entries[mf.DECODER_STEP].file), opts, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        feats = VisionGraph(model, batch.pixel_values.shape[-1])(batch.pixel_values)
        rows = feats[batch.image_index].reshape(batch.input_ids.shape[0], -1, feats.shape[-1])
        ref_logits, *ref_present = PrefillGraph(model)(batch.input_ids, batch.attention_mask, rows)
        nxt = ref_logits.argmax(-1, keepdim=True)
        mask2 = torch.cat([batch.attention_mask, torch.ones_like(nxt)], 1)
        ref_step, *_ = StepGraph(model)(nxt, mask2, *ref_present)
    out = prefill.run(None, {"input_ids": batch.input_ids.numpy(), "attention_mask": batch.attention_mask.numpy(),
                             "image_embeds": rows.numpy()})
    past_names = [i.name for i in step.get_inputs()][2:]
    out2 = step.run(None, {"input_ids": nxt.numpy(), "attention_mask": mask2.numpy(), **dict(zip(past_names, out[1:]))})
    d1 = float(np.abs(out[0] - ref_logits.numpy()).max())
    d2 = float(np.abs(out2[0] - ref_step.numpy()).max())
    return {"rows": int(batch.input_ids.shape[0]), "prefill_max_abs_dlogit": d1, "step_max_abs_dlogit": d2,
            "max_abs_dlogit": max(d1, d2)}


def mark_failed(figures: dict, reason: str) -> None:
    """Fail a precision (an unverified one too: a numeric breach needs no decisive pairs to be real)."""
    earlier = figures.get("reason", "") if figures.get("status") == "failed" else ""
    figures["status"] = "failed"
    figures["reason"] = "; ".join(r for r in (earlier, reason) if r)
