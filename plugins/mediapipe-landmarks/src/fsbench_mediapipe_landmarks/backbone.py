"""`mediapipe-hands`: MediaPipe Hands as an fsbench PoseBackbone.

`keypoints()` serves localisation (hand2vec's pseudo-labels, RWTH's hand crop): raw pixel
landmarks plus a presence column. `features()` serves recognition: the normalised landmarks of
`normalise.py`. Both go through the same content-hashed `LandmarkStore`, so an image is run
through MediaPipe once per detector configuration, whoever asks first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np
import torch
from torch import Tensor

from fsbench.api import PoseBackbone
from fsbench.device import CPU, Placement
from fsbench.errors import FsbenchError

from fsbench_mediapipe_landmarks.detector import DetectorConfig
from fsbench_mediapipe_landmarks.normalise import NormaliseConfig, normalise
from fsbench_mediapipe_landmarks.store import LandmarkStore, Landmarks


def to_uint8(images: Tensor) -> np.ndarray:
    """float (N, C, H, W) in [0, 1] → uint8 (N, H, W, 3); grey images are repeated to RGB."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise FsbenchError(f"mediapipe-hands takes (N, 1|3, H, W) images, got shape {tuple(images.shape)}")
    x = images.detach().cpu().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())


class MediaPipeHands(PoseBackbone):
    """21 MediaPipe hand landmarks per image. No-hand images get zero keypoints with presence 0
    and all-zero features; `landmarks()` exposes the `detected` mask for callers that count them.

    Default input size 128 is Massey's stored size: upsampling to 256 detected no more hands
    there, while padding did (see `DetectorConfig.pad`).
    """

    channels = 3

    def __init__(
        self,
        input_size: int = 128,
        pad: float = 0.25,
        min_detection_confidence: float = 0.5,
        model_complexity: int = 1,
        scale: str = "palm",
        mirror: bool = True,
        use_z: bool = True,
        store: LandmarkStore | None = None,
    ) -> None:
        if int(input_size) < 32:
            raise FsbenchError(f"mediapipe-hands input_size {input_size} is too small; use ≥ 32 pixels")
        self.input_size = (int(input_size), int(input_size))
        self.detector_config = DetectorConfig(pad, min_detection_confidence, model_complexity)
        self.normalise_config = NormaliseConfig(scale, mirror, use_z)
        self.feature_dim = self.normalise_config.dim
        self.store = store or LandmarkStore(self.detector_config)

    def landmarks(self, images: np.ndarray, description: str = "MediaPipe Hands") -> Landmarks:
        """uint8 (N, H, W, 3) → cached-or-detected landmarks (the fast path for datasets)."""
        return self.store.get(images, description)

    def features_from(self, marks: Landmarks) -> np.ndarray:
        return normalise(marks.xyz, marks.left, marks.detected, self.normalise_config)

    def keypoints(self, images: Tensor) -> Tensor:
        """(N, C, H, W) → (N, 21, 3): x, y in input pixels, presence 1 (hand) or 0 (none, x = y = 0)."""
        marks = self.landmarks(to_uint8(images))
        out = marks.xyz.copy()
        out[..., 2] = marks.detected[:, None].astype(np.float32)
        return torch.from_numpy(out)

    def features(self, images: Tensor) -> Tensor:
        return torch.from_numpy(self.features_from(self.landmarks(to_uint8(images))))

    def place(self, placement: Placement) -> "MediaPipeHands":
        """MediaPipe's detector is a native CPU library: the backbone stays on the CPU whatever the run's device."""
        self.placement = CPU
        return self

    def fingerprint(self) -> str:
        blob = json.dumps(
            {"detector": self.store.fingerprint, "normalise": asdict(self.normalise_config),
             "input_size": self.input_size},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()
