"""`hand2vec-ft`: hand2vec with the backbone fine-tuned end to end by the siamese loss.

The frozen-feature design of §3.3 depends on the pose net having learnt hand shape from a
large keypoint corpus; trained on a few thousand pseudo-labelled images it may not. This
variant starts from the same fold-trained backbone, then trains backbone + DualPathHead
together on augmented images of the training view with the pairwise loss (eqs 3.19–3.22),
so the bottleneck features themselves become letter-discriminative.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.configs.sections import recipe
from fsbench.data.dataset import DatasetView
from fsbench.errors import FsbenchError
from fsbench.features import default_size_mode
from fsbench.heads import DualPathHead, pairwise_siamese_loss
from fsbench.training.loop import fit_shuffled
from fsbench_hand2vec.charnet import CharNetBackbone
from fsbench_hand2vec.config import Hand2VecFTConfig
from fsbench_hand2vec.method import TRAINED, Hand2Vec
from fsbench_hand2vec.trainers import prepare_batch


class _Encoder(nn.Module):
    """Backbone encoder + pooling + head, one module so one optimiser trains all of it."""

    def __init__(self, encoder: nn.Module, head: DualPathHead, pool: bool) -> None:
        super().__init__()
        self.encoder, self.head, self.pool = encoder, head, pool

    def forward(self, x: Tensor) -> Tensor:
        z = self.encoder(x)
        z = F.adaptive_avg_pool2d(z, 1).flatten(1) if self.pool and z.ndim == 4 else z.flatten(1)
        return self.head(z)


class Hand2VecFT(Hand2Vec):
    """hand2vec with the fold-trained backbone fine-tuned end to end by the siamese loss."""

    name: ClassVar[str] = "hand2vec-ft"
    version: ClassVar[str] = "1"
    config_class = Hand2VecFTConfig
    config: Hand2VecFTConfig
    demo_config: ClassVar[dict[str, Any]] = {}  # end-to-end fine-tuning is too slow for the demo
    auto_backbone: ClassVar[str] = "posenet"  # fine-tuning needs a net trained here
    config_auto: ClassVar[dict[str, str]] = {
        **Hand2Vec.config_auto, "backbone.name": "posenet on colour images, charnet on grayscale ones (fine-tuning "
                                                 "needs a net trained here)"}
    test_config: ClassVar[dict[str, Any]] = {**Hand2Vec.test_config, "train": {"epochs": 1, "warmup_epochs": 0,
                                                                               "batch_size": 16}}

    def __init__(self, config: Mapping[str, Any] | Hand2VecFTConfig | None = None) -> None:
        super().__init__(config)
        if self.config.backbone.name not in ("auto", *TRAINED):
            raise FsbenchError(f"hand2vec-ft fine-tunes the nets it trains ({', '.join(TRAINED)}); "
                               f"use hand2vec for the frozen backbone {self.config.backbone.name!r}")

    def _fit(self, train: DatasetView, seed: int) -> None:
        super()._fit(train, seed)  # fold-trained backbone + head trained on its frozen features
        assert self.backbone is not None and self.head is not None
        size, mode = default_size_mode(self.backbone)
        gray = isinstance(self.backbone, CharNetBackbone)
        pool = gray or self.config.backbone.pooling == "avg"
        model = _Encoder(self.backbone.net.encoder, self.head, pool)
        images = train.images(size, mode)
        labels = self.placement.put(torch.from_numpy(np.unique(train.labels, return_inverse=True)[1]).long())
        n_classes = int(labels.max()) + 1

        def step_loss(idx: Tensor, gen: torch.Generator) -> Tensor:
            x = prepare_batch(images, idx, gray, True, gen, self.placement)
            return pairwise_siamese_loss(model(x), labels[idx], self.head.alpha, self.head.beta,
                                         n_classes, self.config.head.beta_weight)

        fit_shuffled(model, len(images), recipe(self.config.train), seed, step_loss, "fine-tuning backbone + head",
                     clip=5.0, no_decay=(), after_step=lambda: self.head.bound_alpha(self.config.head.alpha_min),
                     prefix="train.", placement=self.placement)
        self.backbone.net.eval()
        self.backbone._fingerprint = None  # weights changed: features must be recomputed
