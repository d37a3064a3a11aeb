"""`hand2vec-ft`: hand2vec with the backbone fine-tuned end to end by the siamese loss.

The frozen-feature design of §3.3 depends on the pose net having learnt hand shape from a
large keypoint corpus; trained on a few thousand pseudo-labelled images it may not. This
variant starts from the same fold-trained backbone, then trains backbone + DualPathHead
together on augmented images of the training view with the pairwise loss (eqs 3.19–3.22),
so the bottleneck features themselves become letter-discriminative.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.data.dataset import DatasetView
from fsbench.errors import FsbenchError
from fsbench.features import default_size_mode
from fsbench.heads import DualPathHead, pairwise_siamese_loss
from fsbench.training.loop import fit_shuffled
from fsbench_hand2vec.charnet import CharNetBackbone
from fsbench_hand2vec.method import TRAINED, Hand2Vec, sub_config
from fsbench_hand2vec.trainers import BACKBONE_DEFAULTS, prepare_batch


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
    demo_config: ClassVar[dict[str, Any]] = {}  # end-to-end fine-tuning is too slow for the demo
    default_config: ClassVar[dict[str, Any]] = {
        **Hand2Vec.default_config,
        "ft_epochs": 8, "ft_warmup_epochs": 1, "ft_batch_size": 64, "ft_lr_max": 0.01, "ft_lr_min": 1e-4,
        # end-to-end training moves the features under the head: keep it off the α → 0 saddle
        "head_alpha_min": 1.0, "head_input_norm": True,
    }

    auto_backbone: ClassVar[str] = "posenet"  # fine-tuning needs a net trained here
    config_auto: ClassVar[dict[str, str]] = {
        **Hand2Vec.config_auto, "backbone": "posenet on colour images, charnet on grayscale ones (fine-tuning "
                                            "needs a net trained here)"}
    test_config: ClassVar[dict[str, Any]] = {**Hand2Vec.test_config, "ft_epochs": 1, "ft_warmup_epochs": 0,
                                             "ft_batch_size": 16}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["backbone"] not in ("auto", *TRAINED):
            raise FsbenchError(f"hand2vec-ft fine-tunes the nets it trains ({', '.join(TRAINED)}); "
                               f"use hand2vec for the frozen backbone {self.config['backbone']!r}")

    def _fit(self, train: DatasetView, seed: int) -> None:
        super()._fit(train, seed)  # fold-trained backbone + head trained on its frozen features
        assert self.backbone is not None and self.head is not None
        size, mode = default_size_mode(self.backbone)
        gray = isinstance(self.backbone, CharNetBackbone)
        pool = gray or self.config["pooling"] == "avg"
        model = _Encoder(self.backbone.net.encoder, self.head, pool)
        images = train.images(size, mode)
        labels = self.placement.put(torch.from_numpy(np.unique(train.labels, return_inverse=True)[1]).long())
        n_classes = int(labels.max()) + 1

        def step_loss(idx: Tensor, gen: torch.Generator) -> Tensor:
            x = prepare_batch(images, idx, gray, True, gen, self.placement)
            return pairwise_siamese_loss(model(x), labels[idx], self.head.alpha, self.head.beta,
                                         n_classes, self.config["beta_weight"])

        fit_shuffled(model, len(images), {**BACKBONE_DEFAULTS, **sub_config(self.config, "ft_")}, seed, step_loss,
                     "fine-tuning backbone + head", clip=5.0, no_decay=(),
                     after_step=lambda: self.head.bound_alpha(self.config["head_alpha_min"]), prefix="ft_",
                     placement=self.placement)
        self.backbone.net.eval()
        self.backbone._fingerprint = None  # weights changed: features must be recomputed
