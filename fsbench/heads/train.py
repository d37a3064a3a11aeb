"""Train an embedding head on frozen features with the §3.1.2 recipe.

Features are small (N × 128 floats), so the whole set lives in memory and an epoch of the one
loop (`fsbench.training.loop.fit_shuffled`) is a permutation of it, the pairwise siamese loss on every
mini-batch. Seeded: the same (features, labels, config, seed) give the same weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from fsbench.device import CPU, Placement
from fsbench.heads.dualpath import DualPathHead
from fsbench.heads.loss import pairwise_siamese_loss
from fsbench.training.loop import fit_shuffled

HEAD_DEFAULTS: dict[str, Any] = {
    "epochs": 20,
    "warmup_epochs": 5,
    "warmup_lr": 1e-5,
    "lr_max": 0.1,
    "lr_min": 1e-4,
    "batch_size": 256,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "beta_weight": 0.25,
    "alpha_min": 0.0,  # the thesis leaves α free; hand2vec-ft sets 1
}


def train_head(head: DualPathHead, features: Tensor, labels: Tensor, config: dict, seed: int,
               placement: Placement = CPU) -> DualPathHead:
    """Fit `head` in place on (features, labels) and return it in eval mode, on `placement`'s device.

    Config keys (defaults in HEAD_DEFAULTS): epochs, warmup_epochs, warmup_lr, lr_max, lr_min,
    restarts, batch_size, momentum, weight_decay, beta_weight, alpha_min (|α| floor, see
    `DualPathHead.bound_alpha`), num_classes (default: the
    number of distinct labels, which sets pos_weight = |C| − 1).
    """
    cfg = {**HEAD_DEFAULTS, **config}
    labels = torch.as_tensor(labels, dtype=torch.long)
    features = features.float()
    if len(features) != len(labels) or len(features) < 2:
        raise ValueError(f"train_head needs ≥2 matching features/labels, got {len(features)}/{len(labels)}")
    num_classes = int(cfg.get("num_classes") or len(torch.unique(labels)))
    features, labels = placement.put(features), placement.put(labels)  # all of it: small

    def step_loss(idx: Tensor, gen: torch.Generator) -> Tensor:
        emb = head(features[idx])
        return pairwise_siamese_loss(emb, labels[idx], head.alpha, head.beta, num_classes, cfg["beta_weight"])

    return fit_shuffled(head, len(features), cfg, seed, step_loss, "training embedding head",
                        after_step=lambda: head.bound_alpha(cfg["alpha_min"]), prefix="head_", placement=placement)
