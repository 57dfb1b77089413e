"""Distillation losses: the soft verdict target per image order and the rationale token loss.

The student reads its verdict from the two verdict tokens (``A``, ``B``) at the answer position.
For a pair shown in order AB the target probability of token ``A`` is the teacher's ``p_a``; in
order BA the images trade places, so the target of token ``A`` is ``1 - p_a``.
"""

from __future__ import annotations

from creative4u_small.contract.protocol import VERDICTS, decision_token_ids

IGNORE_INDEX = -100


def mixed_target(p_teacher: float | None, label: str | None, label_weight: float) -> float:
    """Probability that Creative A wins, as the student should learn it.

    ``(1 - w) * p_teacher + w * [label == "A"]`` when both are known; the teacher's ``p_a`` alone
    without a label, the label alone without a teacher. Cross-entropy is linear in its target, so
    this equals ``(1 - w) * CE(teacher) + w * CE(label)``.
    """
    if not 0.0 <= label_weight <= 1.0:
        raise ValueError(f"label_weight must be in [0, 1], got {label_weight}")
    if label is not None and label not in VERDICTS:
        raise ValueError(f"label must be one of {VERDICTS} or None, got {label!r}")
    y = None if label is None else float(label == "A")
    if p_teacher is None and y is None:
        raise ValueError("a pair needs a teacher p_a or a label to be a distillation target")
    if p_teacher is None:
        return y
    if y is None:
        return float(p_teacher)
    return (1.0 - label_weight) * float(p_teacher) + label_weight * y


def order_targets(target_a, orders):
    """[P] probabilities that Creative A wins -> [P * len(orders)] targets for verdict token ``A``.

    Rows are pair-major, as ``scorer.build_judge_batch`` lays them out.
    """
    import torch

    t = torch.as_tensor(target_a, dtype=torch.float32)
    cols = [t if o == "AB" else 1.0 - t for o in orders]
    return torch.stack(cols, -1).reshape(-1)


def soft_verdict_loss(logits, target_token_a):
    """Mean soft cross-entropy of [R, 2] verdict logits (A, B) against P(token A) per row."""
    import torch

    logp = torch.log_softmax(logits.float(), -1)
    t = target_token_a.to(logp.device, logp.dtype)
    return -(t * logp[:, 0] + (1.0 - t) * logp[:, 1]).mean()


def token_loss(logits, labels, weights=None):
    """Teacher-forced cross-entropy over the rationale tokens; ``IGNORE_INDEX`` marks padding.

    ``weights`` [B, T] scale each token's term (``decision_weights``); the mean is over tokens.
    """
    import torch

    valid = labels != IGNORE_INDEX
    if int(valid.sum()) == 0:
        return logits.sum() * 0.0
    ce = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none"
    ).reshape(labels.shape)
    if weights is not None:
        ce = ce * weights.to(ce.dtype)
    return ce[valid].mean()


def rationale_decision_ids(tokenizer) -> frozenset[int]:
    """Tokens of a rationale that carry its content rather than its template.

    The comparison signs (``protocol.decision_token_ids``) and the creative letters after a space
    (`` A``/`` B``: Q10's answer and "Creative A/B" in the reasoning). Up-weighted, they keep a
    small student from learning the template alone (every line ``A=B``, Q10 always ``A``).
    """
    letters = set()
    for v in VERDICTS:
        letters.update(tokenizer.encode(" " + v, add_special_tokens=False)[-1:])
    return frozenset(decision_token_ids(tokenizer) | letters)
