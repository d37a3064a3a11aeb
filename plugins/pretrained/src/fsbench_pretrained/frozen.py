"""`frozen-prototypes`: the baseline a practitioner tries first — a pretrained backbone, frozen.

No training at all: every image is embedded as its L2-normalised backbone features (by default
ImageNet EfficientNet-Lite0's 1280-d pooled features) and classified against the support set by
a registered classifier (cosine prototypes by default). Whatever a method that learns from the
training signers scores above it is what that learning adds over off-the-shelf features.
Results record which outside weights were used and what they were trained on.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from torch import Tensor
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import LowShotClassifier, Method, PoseBackbone
from fsbench.cost import TrainingWork
from fsbench.data.dataset import DatasetView
from fsbench.errors import FsbenchError
from fsbench.features import backbone_features
from fsbench.runtime import torch_threads
from fsbench_pretrained.config import FrozenConfig


class FrozenPrototypes(Method):
    """Frozen pretrained features, L2-normalised, classified by a registered rule (cosine
    prototypes): the baseline a practitioner tries first, nothing trained."""

    name: ClassVar[str] = "frozen-prototypes"
    trains: ClassVar[bool] = False  # the backbone stays frozen: nothing is learned from the fold
    version: ClassVar[str] = "1"
    config_class = FrozenConfig
    config: FrozenConfig
    # not in the demo: the demo's Omniglot sets are 4 840 images through a 224-px ImageNet net,
    # several minutes on 2 cores

    def __init__(self, config: Mapping[str, Any] | FrozenConfig | None = None) -> None:
        super().__init__(config)
        registry.find("backbones", self.config.backbone.name)  # did-you-mean error now, not mid-run
        registry.find("classifiers", self.config.classifier.name)
        self._backbone: PoseBackbone | None = None

    def load_backbone(self) -> PoseBackbone:
        """The configured backbone, built on first use: its weights load once per method."""
        if self._backbone is None:
            backbone = build_backbone(self.config.backbone.name, self.config.backbone.options)
            self._backbone = backbone.place(self.placement)
        return self._backbone

    def fit(self, train: DatasetView, seed: int) -> None:
        """Nothing is learned; the backbone is built here, so a broken install fails in the first fold."""
        self.load_backbone()

    def training_work(self, train: DatasetView, seed: int) -> TrainingWork:
        """Nothing trained: every test image once through the frozen backbone (features cached per image)."""
        backbone = self.config.backbone.name
        return TrainingWork(frozen=True, variant=backbone, what=f"nothing to train: frozen {backbone} features")

    def embed(self, view: DatasetView) -> Tensor:
        with torch_threads(self.config.threads):
            return F.normalize(backbone_features(self.load_backbone(), view), dim=1)

    def make_classifier(self) -> LowShotClassifier:
        return registry.classifier(self.config.classifier.name, n0=self.config.classifier.n0)

    def describe(self) -> dict[str, Any]:
        """The method's record plus the outside weights: a board entry must name them."""
        return {**super().describe(), "pretrained": getattr(self.load_backbone(), "pretrained", None)}


def build_backbone(name: str, options: dict[str, Any]) -> PoseBackbone:
    """A registered backbone built with `options`; a one-line error for options it does not take."""
    cls = registry.get("backbones", name)
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        raise FsbenchError(f"backbone {name!r} does not take options {options} ({exc})") from None
    return cls(**options)
