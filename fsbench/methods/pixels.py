"""`pixels`: nearest prototype on normalised raw pixels, no training at all.

It is the floor on every board: whatever a learned method scores above it is what learning
adds. Images are resized, flattened, centred and scaled to unit norm, so the cosine prototype
rule compares shapes rather than brightness.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.cost import TrainingWork
from fsbench.data.dataset import DatasetView
from fsbench.methods.config import PixelsConfig


class Pixels(Method):
    """Raw pixels, resized, centred and unit-normed, classified by cosine prototypes: the floor."""

    name: ClassVar[str] = "pixels"
    version: ClassVar[str] = "1"
    trains: ClassVar[bool] = False
    config_class = PixelsConfig
    config: PixelsConfig

    def training_work(self, train: DatasetView, seed: int) -> TrainingWork:
        return TrainingWork()

    def embed(self, view: DatasetView) -> Tensor:
        chunks = [self.embed_tensor(b) for b in view.tensors(self.config.size, self.config.mode)]
        return torch.cat(chunks) if chunks else torch.empty(0, 0)

    def embed_tensor(self, images: Tensor) -> Tensor:
        """Differentiable embedding of (N, C, H, W) images (used by the similarity-gradient figure)."""
        x = images.flatten(1)
        return F.normalize(x - x.mean(dim=1, keepdim=True), dim=1)

    def make_classifier(self) -> LowShotClassifier:
        return registry.classifier(self.config.classifier.name, n0=self.config.classifier.n0)
