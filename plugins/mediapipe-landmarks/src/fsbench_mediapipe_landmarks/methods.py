"""Two methods on MediaPipe landmarks: a learned embedding and a training-free reference.

`mediapipe-landmarks`  normalised landmarks → core DualPathHead (trained on the fold's training
                       signers with the §3.1.2 recipe) → σ(β + α²·cos) classifier.
`mediapipe-geometric`  normalised landmarks → nearest prototype; no training, so the difference
                       between the two is what the embedding head adds.

Images where MediaPipe finds no hand are first-class: `valid_mask` tells the evaluator, which
counts them as errors in the main metric and reports a detected-only metric beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.configs import Config
from fsbench.data.dataset import DatasetView
from fsbench.errors import FsbenchError
from fsbench.heads.dualpath import DualPathHead
from fsbench.heads.method import HeadMethod

from fsbench_mediapipe_landmarks.backbone import MediaPipeHands
from fsbench_mediapipe_landmarks.config import GeometricConfig, LandmarksConfig
from fsbench_mediapipe_landmarks.store import Landmarks

class _LandmarkMethod(Method):
    """Shared plumbing: one backbone per config, landmarks memoised per view."""

    test_data: ClassVar[str] = "real-hands"  # MediaPipe's palm detector finds no hand in synthetic bars

    def __init__(self, config: Mapping[str, Any] | Config | None = None) -> None:
        super().__init__(config)
        c = self.config.backbone
        self.backbone = MediaPipeHands(c.size, c.pad, c.min_detection_confidence, c.model_complexity, c.scale,
                                       c.mirror, c.use_z)
        self._memo: tuple[str, Landmarks] | None = None

    def landmarks(self, view: DatasetView) -> Landmarks:
        """Landmarks of `view`'s images (the evaluator asks twice: embed, then valid_mask)."""
        if self._memo is not None and self._memo[0] == view.fingerprint:
            return self._memo[1]
        if len(view) == 0:
            marks = Landmarks.empty()
        else:
            marks = self.backbone.landmarks(view.images(self.config.backbone.size, "RGB"), f"MediaPipe Hands on {view.dataset.name}")
        self._memo = (view.fingerprint, marks)
        return marks

    def valid_mask(self, view: DatasetView) -> np.ndarray:
        """True where MediaPipe found a hand, i.e. where the embedding means something."""
        return self.landmarks(view).detected.copy()

    def landmark_features(self, view: DatasetView) -> Tensor:
        return torch.from_numpy(self.backbone.features_from(self.landmarks(view)))

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["backbone"] = {"name": "mediapipe-hands", "fingerprint": self.backbone.fingerprint()}
        return out


class MediaPipeGeometric(_LandmarkMethod):
    """Nearest prototype on normalised MediaPipe landmarks; nothing is learned."""

    name: ClassVar[str] = "mediapipe-geometric"
    trains: ClassVar[bool] = False
    version: ClassVar[str] = "1"
    config_class = GeometricConfig

    def embed(self, view: DatasetView) -> Tensor:
        return self.landmark_features(view)

    def make_classifier(self) -> LowShotClassifier:
        return registry.classifier(self.config.classifier.name, n0=self.config.classifier.n0)


class MediaPipeLandmarks(HeadMethod, _LandmarkMethod):
    """Normalised landmarks → dual-path embedding head trained on the training signers."""

    name: ClassVar[str] = "mediapipe-landmarks"
    version: ClassVar[str] = "1"
    config_class = LandmarksConfig

    def __init__(self, config: Mapping[str, Any] | LandmarksConfig | None = None) -> None:
        super().__init__(config)
        self.head: DualPathHead | None = None
        self._mean: Tensor | None = None
        self._std: Tensor | None = None

    def fit(self, train: DatasetView, seed: int) -> None:
        feats = self.landmark_features(train)
        ok = torch.from_numpy(self.valid_mask(train))
        if int(ok.sum()) < 2:
            raise FsbenchError(
                f"MediaPipe found a hand in only {int(ok.sum())} of {len(train)} training images; "
                "check the images are hands, or raise `pad` / lower `min_detection_confidence`"
            )
        x, labels = feats[ok], torch.from_numpy(train.labels)[ok]
        # standardise on the training signers only: landmark coordinates differ in spread by joint
        self._mean, self._std = x.mean(0), x.std(0).clamp_min(1e-3)
        identity = f"{self.backbone.fingerprint()}|{train.fingerprint}"
        self.head = self.fit_head((x - self._mean) / self._std, labels, seed, identity)

    @torch.inference_mode()
    def embed(self, view: DatasetView) -> Tensor:
        if self.head is None or self._mean is None or self._std is None:
            raise FsbenchError("mediapipe-landmarks.embed() called before fit(); call fit(train_view, seed) first")
        feats = self.landmark_features(view)
        emb = self.apply_head((feats - self._mean) / self._std)
        emb[~torch.from_numpy(self.valid_mask(view))] = 0  # no hand → no embedding (evaluator skips)
        return emb
