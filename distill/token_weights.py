"""Per-token loss weights: the tokens that carry a rationale's decisions count more than its template.

Used by the teacher's CoT-SFT (the comparison signs of the protocol lines) and the student's
rationale loss (those and the creative letters).
"""

from __future__ import annotations


def decision_weights(labels, decision_ids, weight: float):
    """Per-token loss weights for ``labels`` [B, T]: ``weight`` on ``decision_ids``, 1 elsewhere."""
    import torch

    ids = torch.tensor(sorted(decision_ids), device=labels.device)
    return 1.0 + (weight - 1.0) * torch.isin(labels, ids).to(torch.float32)
