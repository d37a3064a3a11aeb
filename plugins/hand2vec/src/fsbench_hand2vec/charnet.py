"""The 28×28 grayscale character classifier of Figure 3.7 and its frozen-feature backbone.

Conv+BN+ReLU6 (32) → inverted residuals 32×3, 64×5 (first stride 2), 96 (s2), 128, 32 (s2)
→ average pool (32 extracted features) → Dropout(0.5) → FC |C|. Trained with cross-entropy on
the training classes, then frozen: the pooled 32 features feed the siamese head (Fig 3.10).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from fsbench.api import PoseBackbone
from fsbench_hand2vec.blocks import conv_bn_relu6, init_recipe, inverted_residual, weights_fingerprint

ENCODER = [(32, 1), (32, 1), (32, 1),
           (64, 2), (64, 1), (64, 1), (64, 1), (64, 1),
           (96, 2), (128, 1), (32, 2)]


class CharNet(nn.Module):
    """Fig 3.7: `encode` → (N, 32) pooled features; `forward` → (N, num_classes) logits."""

    def __init__(self, num_classes: int = 40) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu6(1, 32)]
        c = 32
        for cout, stride in ENCODER:
            layers.append(inverted_residual(c, cout, stride))
            c = cout
        self.encoder = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(c, num_classes))
        self.num_classes = num_classes
        init_recipe(self)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.encoder(x))


def normalise_gray(images: Tensor) -> Tensor:
    return (images - 0.5) / 0.5


class CharNetBackbone(PoseBackbone):
    """Fig 3.7's convolutional block as a frozen backbone (no keypoints: it is not a hand model)."""

    input_size = (28, 28)
    channels = 1
    feature_dim = 32

    def __init__(self, net: CharNet | None = None) -> None:
        self.net = (net or CharNet()).eval().to(memory_format=torch.channels_last)
        self._fingerprint: str | None = None

    @torch.inference_mode()
    def features(self, images: Tensor) -> Tensor:
        out = [self.net.encode(normalise_gray(b).contiguous(memory_format=torch.channels_last)) for b in images.split(512)]
        return torch.cat(out) if out else torch.empty(0, self.feature_dim)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.net, self.config())
        return self._fingerprint

    def config(self) -> dict[str, Any]:
        return {"arch": "charnet", "num_classes": self.net.num_classes}
