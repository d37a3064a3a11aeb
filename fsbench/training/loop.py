"""Train an embedding head on frozen features with the §3.1.2 recipe.

Features are small (N × 128 floats), so the whole set lives in memory and an epoch is a
permutation of it: warm-up at a tiny rate, then SGD with Nesterov momentum under cosine
warm restarts (eq. 3.7), the pairwise siamese loss on every mini-batch. Seeded: the same
(features, labels, config, seed) give the same weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from fsbench.heads.dualpath import DualPathHead
from fsbench.heads.loss import pairwise_siamese_loss
from fsbench.training.schedule import LRSchedule
from fsbench.progress import progress_bar

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


def train_head(head: DualPathHead, features: Tensor, labels: Tensor, config: dict, seed: int) -> DualPathHead:
    """Fit `head` in place on (features, labels) and return it in eval mode.

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
    schedule = LRSchedule.from_config(cfg)
    batch = max(2, min(int(cfg["batch_size"]), len(features)))
    steps = max(1, len(features) // batch)
    # α, β get no weight decay: decay pulls α to 0, a saddle of σ(β + α²·cos) where every
    # gradient through the embedding vanishes and the head never recovers (seen on Omniglot).
    scalars = [p for n, p in head.named_parameters() if n in ("alpha", "beta")]
    others = [p for n, p in head.named_parameters() if n not in ("alpha", "beta")]
    opt = torch.optim.SGD(
        [{"params": others, "weight_decay": cfg["weight_decay"]}, {"params": scalars, "weight_decay": 0.0}],
        lr=schedule(0), momentum=cfg["momentum"], nesterov=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        head.train()
        with progress_bar() as bar:
            task = bar.add_task("training embedding head", total=int(schedule.epochs) * steps)
            for epoch in range(int(schedule.epochs)):
                perm = torch.randperm(len(features), generator=gen)
                for step in range(steps):
                    for group in opt.param_groups:
                        group["lr"] = schedule(epoch + step / steps)
                    idx = perm[step * batch : (step + 1) * batch]
                    emb = head(features[idx])
                    loss = pairwise_siamese_loss(
                        emb, labels[idx], head.alpha, head.beta, num_classes, cfg["beta_weight"]
                    )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    head.bound_alpha(cfg["alpha_min"])
                    bar.advance(task)
    return head.eval()
