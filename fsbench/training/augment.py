"""Training augmentation on image tensors (torchvision transforms v2), drawn per image from a seeded
generator so a (seed, batch) always gives the same images.

The fine-tuning recipe calibrated on a GPU (docs/baselines.md): rotation ±15°, scale 0.8–1.1,
shift ±10 % of the side, then brightness / contrast / saturation ±20 %. Horizontal flips only where the dataset card says a
mirror image keeps its class (`DatasetCard.flips`): never for hands, whose handedness is part
of the sign. torchvision's random transforms draw one set of parameters per call and from the
global RNG; here every image gets its own, from the caller's `torch.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

if TYPE_CHECKING:
    from fsbench.data.cards import DatasetCard


@dataclass(frozen=True)
class Augment:
    """Random geometry then colour, per image; `off()` is the identity."""

    rotation: float = 15.0  # degrees, ±
    scale: tuple[float, float] = (0.8, 1.1)
    shift: float = 0.10  # fraction of the image side, ±, in x and y
    brightness: float = 0.2  # factor drawn from 1 ± this
    contrast: float = 0.2
    saturation: float = 0.2
    flip: bool = False  # horizontal mirror with probability 1/2

    @classmethod
    def for_card(cls, card: "DatasetCard | None", **settings: Any) -> "Augment":
        """The recipe with flips exactly where `card` allows them (no card: none)."""
        return cls(**{**settings, "flip": bool(card is not None and card.flips)})

    @classmethod
    def off(cls) -> "Augment":
        return cls(0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0, False)

    @property
    def active(self) -> bool:
        return self != Augment.off()

    def __call__(self, images: Tensor, gen: torch.Generator) -> Tensor:
        """(N, C, H, W) float in [0, 1] → the same shape, each image with its own parameters."""
        if not self.active or len(images) == 0:
            return images
        n, channels, h, w = images.shape
        u = torch.rand(n, 8, generator=gen, dtype=torch.float64).tolist()  # one row of draws per image
        lo, hi = self.scale
        out = []
        for img, (r, s, dx, dy, b, c, sat, f) in zip(images, u):
            x = TF.affine(img, angle=(2 * r - 1) * self.rotation,
                          translate=[round((2 * dx - 1) * self.shift * w), round((2 * dy - 1) * self.shift * h)],
                          scale=lo + s * (hi - lo), shear=[0.0, 0.0],
                          interpolation=InterpolationMode.BILINEAR, fill=0.0)
            if self.brightness:
                x = TF.adjust_brightness(x, 1 + (2 * b - 1) * self.brightness)
            if self.contrast:
                x = TF.adjust_contrast(x, 1 + (2 * c - 1) * self.contrast)
            if self.saturation and channels == 3:
                x = TF.adjust_saturation(x, 1 + (2 * sat - 1) * self.saturation)
            if self.flip and f < 0.5:
                x = TF.horizontal_flip(x)
            out.append(x)
        return torch.stack(out).clamp_(0, 1)
