"""`hand2vec-ft`: hand2vec with the backbone fine-tuned end to end by the siamese loss.

The frozen-feature design of §3.3 depends on the pose net having learnt hand shape from a
large keypoint corpus; trained on a few thousand pseudo-labelled images it may not. This
variant starts from the same fold-trained backbone, then trains backbone + DualPathHead
together on augmented images of the training view with the pairwise loss (eqs 3.19–3.22),
so the bottleneck features themselves become letter-discriminative.

On a registered pretrained backbone in stages (`mediapipe-handnet`, `imagenet-efficientnet-lite0`:
fsbench.api.Finetunable) the same thing runs through fsbench's one fine-tuning trainer: the head is
first trained on the frozen features (hand2vec, cached), then backbone and head train together with
the pairwise siamese loss (`Siamese`) under the config's `finetune` section (the trainer's recipe:
stages, views, size, AdamW rates, epochs). That is the thesis's design at its strongest: a pose net
that has learned hand pose, its bottleneck fine-tuned for letters by the siamese loss.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import Finetunable
from fsbench.configs.sections import recipe
from fsbench.data.dataset import DatasetView
from fsbench.errors import FsbenchError
from fsbench.features import default_size_mode
from fsbench.heads import DualPathHead, pairwise_siamese_loss
from fsbench.training import finetune as trainer  # by module: the leak test spies on trainer.finetuned
from fsbench.training.finetune import Finetuned
from fsbench.training.loop import fit_shuffled
from fsbench.training.objectives import Objective
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


class Siamese(Objective):
    """The pairwise siamese loss (eqs 3.19–3.22) of a DualPathHead over the backbone's features;
    after every step the head's |α| is kept above `alpha_min` (off the α → 0 saddle)."""

    def __init__(self, head: DualPathHead, classes: int, beta_weight: float, alpha_min: float) -> None:
        super().__init__()
        self.head, self.classes, self.beta_weight, self.alpha_min = head, classes, float(beta_weight), float(alpha_min)

    def identity(self) -> dict:
        return {"objective": "siamese", "beta_weight": self.beta_weight, "alpha_min": self.alpha_min}

    def loss(self, features: Tensor, labels: Tensor) -> Tensor:
        return pairwise_siamese_loss(self.head(features), labels, self.head.alpha, self.head.beta, self.classes,
                                     self.beta_weight)

    def after_step(self) -> None:
        self.head.bound_alpha(self.alpha_min)


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
        self.finetuned: Finetuned | None = None
        self.finetune_record: dict[str, Any] = {}

    def features(self, view: DatasetView) -> Tensor:
        """The fine-tuned pretrained net's features once it is trained, else the frozen ones."""
        if self.finetuned is not None:
            return self.finetuned.embed(view, self.placement)
        return super().features(view)

    def _fit(self, train: DatasetView, seed: int) -> None:
        self.finetuned = None
        if self._kind(train) not in TRAINED:
            return self._fit_pretrained(train, seed)
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

    def _fit_pretrained(self, train: DatasetView, seed: int) -> None:
        """Head on the frozen features (hand2vec's, cached), then backbone + head by the siamese loss."""
        name, options = self._kind(train), dict(self.config.backbone.options)
        if not isinstance(registry.get("backbones", name)(**options), Finetunable):
            raise FsbenchError(f"hand2vec-ft fine-tunes the nets it trains ({', '.join(TRAINED)}) or a registered "
                               f"backbone in stages (mediapipe-handnet, imagenet-efficientnet-lite0); "
                               f"use hand2vec for the frozen backbone {name!r}")
        super()._fit(train, seed)
        assert self.backbone is not None and self.head is not None
        start, head = copy.deepcopy(self.head).cpu(), self.config.head

        def objective(dim: int, classes: int) -> Siamese:
            return Siamese(copy.deepcopy(start), classes, head.beta_weight, head.alpha_min)

        model, meta = trainer.finetuned(
            lambda: registry.get("backbones", name)(**options), self.backbone.fingerprint(), self.config.finetune,
            objective, train, seed, identity={"method": self.name, "version": self.version, "head": self.config_hash},
            kind="hand2vec", placement=self.placement, threads=self.config.threads)
        self.finetuned, self.head = model, model.objective.head
        self.finetune_record = {"train_seconds": meta.get("train_seconds"), "cached": meta["cached"]}

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.finetune_record:
            out["finetuning"] = self.finetune_record
        return out
