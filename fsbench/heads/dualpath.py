"""The linear dual-path embedding head of Figures 3.9, 3.11 and 3.19.

Each layer keeps a residual path over its c input channels and appends Δc new ones (a
dual-path network [73] in its linear form), so the head widens gradually from the backbone's
features; a final linear map projects to f features on the unit sphere, compared by the
learned similarity σ(β + α²·a·b) of eq. 3.17.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import EmbeddingHead, LowShotClassifier


class LinearDualPathLayer(nn.Module):
    """Fig 3.11: Dropout(0.25) → FC c→4c → BN+LeakyReLU → FC 4c→c+Δc; residual on the first c."""

    def __init__(self, channels: int, new_channels: int, dropout: float = 0.25) -> None:
        super().__init__()
        self.channels, self.new_channels = channels, new_channels
        self.body = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(channels, 4 * channels),
            nn.BatchNorm1d(4 * channels),
            nn.LeakyReLU(0.01),
            nn.Linear(4 * channels, channels + new_channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        return torch.cat([x + y[:, : self.channels], y[:, self.channels :]], dim=1)


def default_widths(in_features: int, layers: int = 8, growth: int = 16) -> list[int]:
    """Fig 3.9/3.19: eight layers, each adding 16 channels (32→48…160, 128→144…256)."""
    return [in_features + growth * (k + 1) for k in range(layers)]


class DualPathHead(EmbeddingHead):
    """Backbone features (N, D) → unit embeddings (N, f) with a learned α, β similarity.

    `widths` are the output widths of the stacked dual-path layers (each must exceed the one
    before); `dropout` is the rate before the final projection (0.5 in Fig 3.9); `input_norm`
    standardises the backbone features first (BatchNorm, no affine): not in the thesis, but
    pose-net features with a large shared offset and small spread made the head collapse;
    `squeeze` > 0 projects the features linearly to that width first: the thesis's head is built
    for its pose net's 128-d bottleneck, and on a pretrained net's 1152-d one its layers (each
    D → 4D → D + 16) would hold ~86 M weights to learn from a few thousand images.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 10,
        widths: Sequence[int] | None = None,
        dropout: float = 0.5,
        alpha: float = 2.0,
        beta: float = 0.0,
        input_norm: bool = False,
        squeeze: int = 0,
    ) -> None:
        super().__init__()
        width = int(squeeze) or in_features
        widths = list(widths) if widths is not None else default_widths(width)
        self.in_features, self.out_features = in_features, out_features
        layers, c = [], width
        for w in widths:
            if w < c:
                raise ValueError(f"dual-path widths must not shrink ({c} → {w}); got {widths}")
            layers.append(LinearDualPathLayer(c, w - c))
            c = w
        self.norm = nn.BatchNorm1d(in_features, affine=False) if input_norm else nn.Identity()
        self.squeeze = nn.Linear(in_features, width) if squeeze else nn.Identity()
        self.layers = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(c, out_features)
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, features: Tensor) -> Tensor:
        return F.normalize(self.project(self.dropout(self.layers(self.squeeze(self.norm(features))))), dim=1)

    @torch.no_grad()
    def bound_alpha(self, floor: float) -> None:
        """Keep |α| ≥ `floor` (after each optimiser step).

        α = 0 is a saddle of σ(β + α²·a·b): every gradient through the embedding vanishes with
        it, and on Massey the head fell into it within a few epochs (learned α ≈ 0.05, chance
        accuracy). The thesis leaves α free (floor 0); hand2vec-ft trains with floor 1.
        """
        if floor > 0:
            self.alpha.copy_(self.alpha.abs().clamp_min(floor))

    def logits(self, a: Tensor, b: Tensor) -> Tensor:
        """β + α²·a·bᵀ: the pre-sigmoid similarity the loss and classifiers use."""
        return self.beta + self.alpha**2 * (a @ b.T)

    def similarity(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(a, b))

    def classifier(self, rule: str = "max") -> LowShotClassifier:
        """The low-shot rule (eqs 3.24–3.26) with this head's learned α, β.

        Found by name in the registry (the rules live on the evaluation floor, above the heads)."""
        return registry.get("classifiers", rule)(self.alpha.item(), self.beta.item())

    def learned(self) -> dict[str, float]:
        """The learned similarity parameters, as results files record them."""
        return {"alpha": self.alpha.item(), "beta": self.beta.item()}
