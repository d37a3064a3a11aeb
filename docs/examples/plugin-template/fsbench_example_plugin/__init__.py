"""A complete third-party fsbench method in one screen.

`random-projection` embeds images by a fixed Gaussian random projection of their pixels
(Johnson–Lindenstrauss): no training, yet a real, seeded method that shows the whole contract.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.data.dataset import DatasetView


class RandomProjection(Method):
    name: ClassVar[str] = "random-projection"
    version: ClassVar[str] = "1"
    default_config: ClassVar[dict[str, Any]] = {"size": 24, "dim": 64, "classifier": "prototype"}
    demo_config: ClassVar[dict[str, Any]] = {"size": 28}

    def fit(self, train: DatasetView, seed: int) -> None:
        """Nothing is learned from `train`; the projection depends on the seed alone."""
        pixels = 3 * self.config["size"] ** 2
        generator = torch.Generator().manual_seed(seed)
        self.projection = torch.randn(pixels, self.config["dim"], generator=generator)

    def embed(self, view: DatasetView) -> Tensor:
        batches = [b.flatten(1) @ self.projection for b in view.tensors(self.config["size"], "RGB")]
        return F.normalize(torch.cat(batches), dim=1)

    def make_classifier(self) -> LowShotClassifier:
        return registry.get("classifiers", self.config["classifier"])()
