"""The hand-pose heatmap network of Figure 3.1 and its frozen-feature backbone.

3×64×64 → Conv+BN+ReLU6 (stride 2) → 13 inverted residuals (expand 4) → 1×1 Conv+BN+ReLU6 at
128×4×4 (the bottleneck: THE hand-pose feature) → four ConvTranspose+BN(+ReLU) back to 64×64 →
1×1 conv to 21 heatmaps. The bottleneck is average-pooled to 128 features, as Fig 3.19 does
before the dual-path head; flattening (2048) is the option the thesis warns overfits
(§3.3: 256 features already did). The figure lists ConvT+BN without an activation; we add
ReLU after each BN, otherwise the four upsampling layers would collapse into one linear map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.api import PoseBackbone
from fsbench_hand2vec.blocks import conv_bn_relu6, init_recipe, inverted_residual, weights_fingerprint

NUM_KEYPOINTS = 21
#: (output channels, stride) of the inverted residuals of Fig 3.1, 32×32 → 4×4
ENCODER = [(16, 1), (32, 1), (32, 1), (32, 1), (32, 2),
           (64, 1), (64, 1), (64, 1), (64, 2),
           (128, 1), (128, 1), (128, 1), (128, 2)]
DECODER = [64, 64, 32, 32]
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class PoseNet(nn.Module):
    """Fig 3.1. `encode` gives the 128×4×4 bottleneck; `forward` the 21 heatmap logits."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu6(3, 32, stride=2)]
        c = 32
        for cout, stride in ENCODER:
            layers.append(inverted_residual(c, cout, stride))
            c = cout
        layers.append(conv_bn_relu6(c, 128, kernel=1))
        self.encoder = nn.Sequential(*layers)
        up: list[nn.Module] = []
        c = 128
        for cout in DECODER:
            up += [nn.ConvTranspose2d(c, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            c = cout
        self.decoder = nn.Sequential(*up)
        self.heatmaps = nn.Conv2d(c, NUM_KEYPOINTS, 1)
        init_recipe(self)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.heatmaps(self.decoder(self.encoder(x)))


def normalise(images: Tensor) -> Tensor:
    """[0, 1] RGB → channel-normalised input (the recipe's 'image colour normalisation')."""
    mean = images.new_tensor(MEAN)[:, None, None]
    std = images.new_tensor(STD)[:, None, None]
    return (images - mean) / std


def gaussian_targets(keypoints: Tensor, size: int = 64, radius: float = 2.0) -> Tensor:
    """Eq. 3.8: (N, 21, 2) pixel (x, y) → (N, 21, size, size) Gaussians of radius r."""
    grid = torch.arange(size, dtype=keypoints.dtype, device=keypoints.device)
    dx = (grid[None, None, :] - keypoints[..., 0:1]) ** 2  # (N, K, W)
    dy = (grid[None, None, :] - keypoints[..., 1:2]) ** 2  # (N, K, H)
    return torch.exp(-(dy[..., :, None] + dx[..., None, :]) / (2 * radius**2))


def heatmap_loss(logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
    """Eq. 3.9: mean over pixels of (σ(φ) − y)², averaged over keypoints weighted by visibility."""
    per_kp = (torch.sigmoid(logits) - targets).pow(2).mean(dim=(-2, -1))  # (N, K)
    if weights is None:
        return per_kp.mean()
    return (per_kp * weights).sum() / weights.sum().clamp_min(1.0)


def decode_heatmaps(logits: Tensor) -> Tensor:
    """(N, K, H, W) → (N, K, 3): argmax pixel x, y and its σ confidence."""
    n, k, h, w = logits.shape
    conf, flat = logits.flatten(2).max(dim=2)
    return torch.stack([(flat % w).float(), (flat // w).float(), torch.sigmoid(conf)], dim=-1)


class PoseNetBackbone(PoseBackbone):
    """Fig 3.1 as a frozen `PoseBackbone`: pooled (or flattened) bottleneck features, argmax keypoints."""

    input_size = (64, 64)
    channels = 3

    def __init__(self, net: PoseNet | None = None, pooling: str = "avg", checkpoint: str | Path | None = None) -> None:
        if pooling not in ("avg", "flatten"):
            raise ValueError(f"pooling must be 'avg' or 'flatten', not {pooling!r}")
        if checkpoint is not None:
            from fsbench_hand2vec.checkpoint import load_checkpoint

            net = PoseNet()
            load_checkpoint(Path(checkpoint), net, {"arch": "posenet"})
        self.net = (net or PoseNet()).eval().to(memory_format=torch.channels_last)
        self.pooling = pooling
        self.feature_dim = 128 if pooling == "avg" else 128 * 16
        self._fingerprint: str | None = None

    def _encode(self, images: Tensor) -> Tensor:
        x = normalise(images).contiguous(memory_format=torch.channels_last)
        z = self.net.encode(x)
        return F.adaptive_avg_pool2d(z, 1).flatten(1) if self.pooling == "avg" else z.flatten(1)

    @torch.inference_mode()
    def features(self, images: Tensor) -> Tensor:
        return torch.cat([self._encode(b) for b in images.split(256)]) if len(images) else torch.empty(0, self.feature_dim)

    @torch.inference_mode()
    def keypoints(self, images: Tensor) -> Tensor:
        """Argmax of each heatmap, in pixels of the 64×64 input."""
        out = [decode_heatmaps(self.net(normalise(b).contiguous(memory_format=torch.channels_last))) for b in images.split(256)]
        return torch.cat(out) if out else torch.empty(0, NUM_KEYPOINTS, 3)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.net, {"arch": "posenet", "pooling": self.pooling})
        return self._fingerprint

    def config(self) -> dict[str, Any]:
        return {"arch": "posenet", "pooling": self.pooling}
