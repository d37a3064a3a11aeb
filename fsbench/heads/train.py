"""Train an embedding head on frozen features with the §3.1.2 recipe.

Features are small (N × 128 floats), so the whole set lives in memory and an epoch of the one
loop (`fsbench.training.loop.fit_shuffled`) is a permutation of it, the pairwise siamese loss on every
mini-batch. Seeded: the same (features, labels, config, seed) give the same weights.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fsbench.configs.sections import HeadConfig, recipe
from fsbench.device import CPU, Placement
from fsbench.heads.dualpath import DualPathHead
from fsbench.heads.loss import pairwise_siamese_loss
from fsbench.training.loop import fit_shuffled


def train_head(head: DualPathHead, features: Tensor, labels: Tensor, config: HeadConfig, seed: int,
               placement: Placement = CPU, num_classes: int | None = None) -> DualPathHead:
    """Fit `head` in place on (features, labels) and return it in eval mode, on `placement`'s device.

    `config` is the method's `head` section: its SGD recipe goes to the loop as it is, `alpha_min`
    bounds |α| after each step (`DualPathHead.bound_alpha`), `beta_weight` weighs the loss's β
    term. `num_classes` (default: the distinct labels) sets the loss's pos_weight = |C| − 1.
    """
    labels = torch.as_tensor(labels, dtype=torch.long)
    features = features.float()
    if len(features) != len(labels) or len(features) < 2:
        raise ValueError(f"train_head needs ≥2 matching features/labels, got {len(features)}/{len(labels)}")
    num_classes = int(num_classes or len(torch.unique(labels)))
    features, labels = placement.put(features), placement.put(labels)  # all of it: small

    def step_loss(idx: Tensor, gen: torch.Generator) -> Tensor:
        emb = head(features[idx])
        return pairwise_siamese_loss(emb, labels[idx], head.alpha, head.beta, num_classes, config.beta_weight)

    return fit_shuffled(head, len(features), recipe(config), seed, step_loss, "training embedding head",
                        after_step=lambda: head.bound_alpha(config.alpha_min), prefix="head.", placement=placement)
