"""random-projection with a plain-dict config: how plugins were written before typed configs.

`default_config` maps each key to its default; values are checked against the default's type
before anything runs and `self.config` is that dict. It keeps working — but a config class
(`__init__.py`) gives each value a doc, bounds and choices, `--set` with dotted sections, and
`fsbench info` a schema.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.data.dataset import DatasetView


class PlainRandomProjection(Method):
    """random-projection configured by a plain dict (still supported)."""

    name: ClassVar[str] = "random-projection-dict"
    version: ClassVar[str] = "1"
    default_config: ClassVar[dict[str, Any]] = {"size": 24, "dim": 64, "classifier": "prototype"}

    def fit(self, train: DatasetView, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.projection = torch.randn(3 * self.config["size"] ** 2, self.config["dim"], generator=generator)

    def embed(self, view: DatasetView) -> Tensor:
        batches = [b.flatten(1) @ self.projection for b in view.tensors(self.config["size"], "RGB")]
        return F.normalize(torch.cat(batches), dim=1)

    def make_classifier(self) -> LowShotClassifier:
        return registry.get("classifiers", self.config["classifier"])()
