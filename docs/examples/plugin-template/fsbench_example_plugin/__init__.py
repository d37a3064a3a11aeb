"""A complete third-party fsbench method in one screen.

`random-projection` embeds images by a fixed Gaussian random projection of their pixels
(Johnson–Lindenstrauss): no training, yet a real, seeded method that shows the whole contract.
Its config is a frozen dataclass: every value with its one default, a one-line doc (`fsbench info
random-projection` prints them) and bounds; `--set dim=128` reaches it, and the whole object is
in the config hash that names a leaderboard entry. (`legacy.py`: the same method with a plain
dict as its config, the way plugins were written before — it still works.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.configs import Config, option
from fsbench.data.dataset import DatasetView


@dataclass(frozen=True, kw_only=True)
class RandomProjectionConfig(Config):
    """Every setting of random-projection, with its one default."""

    size: int = option(24, "side (pixels) every image is resized to", bounds=(4, 128))
    dim: int = option(64, "embedding size: columns of the random projection", bounds=(1, 4096))
    classifier: str = option("prototype", "registered classifier rule (fsbench list classifiers)")


class RandomProjection(Method):
    """Pixels through a seeded Gaussian random projection, compared by a registered rule."""

    name: ClassVar[str] = "random-projection"
    version: ClassVar[str] = "1"
    config_class = RandomProjectionConfig
    config: RandomProjectionConfig
    demo_config: ClassVar[dict] = {"size": 28}

    def fit(self, train: DatasetView, seed: int) -> None:
        """Nothing is learned from `train`; the projection depends on the seed alone."""
        pixels = 3 * self.config.size**2
        generator = torch.Generator().manual_seed(seed)
        self.projection = torch.randn(pixels, self.config.dim, generator=generator)

    def embed(self, view: DatasetView) -> Tensor:
        batches = [b.flatten(1) @ self.projection for b in view.tensors(self.config.size, "RGB")]
        return F.normalize(torch.cat(batches), dim=1)

    def make_classifier(self) -> LowShotClassifier:
        return registry.get("classifiers", self.config.classifier)()
