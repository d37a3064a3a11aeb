"""The pairwise siamese loss of eqs 3.19–3.22.

Every ordered pair (i, j), i ≠ j, of a mini-batch is a same/different example; BCE on the
similarity logits with positive weight |C|−1 balances the ~1/|C| share of positive pairs, and
λβ·|β| stops the head from collapsing into narrow clusters (large α, very negative β).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def pairwise_siamese_loss(
    embeddings: Tensor,
    labels: Tensor,
    alpha: Tensor,
    beta: Tensor,
    num_classes: int,
    beta_weight: float = 0.25,
) -> Tensor:
    """Mean BCE over all off-diagonal pairs (pos_weight = num_classes − 1) + beta_weight·|β|."""
    n = len(embeddings)
    if n < 2:
        raise ValueError("the pairwise loss needs at least two embeddings in a mini-batch")
    logits = beta + alpha**2 * (embeddings @ embeddings.T)
    target = (labels[:, None] == labels[None, :]).to(logits.dtype)
    off = ~torch.eye(n, dtype=torch.bool, device=embeddings.device)
    pos_weight = torch.tensor(float(max(num_classes - 1, 1)), device=embeddings.device)
    bce = F.binary_cross_entropy_with_logits(logits[off], target[off], pos_weight=pos_weight)
    return bce + beta_weight * beta.abs()
