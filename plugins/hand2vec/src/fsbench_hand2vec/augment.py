"""The §3.1.2 augmentations, in the thesis's order, on batches of [0, 1] image tensors.

resize (done when the view is decoded at the network's size) → Gaussian blur (σ = 1 px at
64 px) → colour jitter 40 % (brightness, contrast, saturation; hue ±0.1, since ±0.4 of the
hue circle would turn skin green) → normalisation (inside the network wrappers' `normalise`)
→ white noise σ = 0.01 → cutout 8×8 px (scaled with the image). No geometric transform is
used, so keypoints need no remapping. Photometric ops are drawn per image (torchvision v2
draws one set of parameters per call).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.transforms import v2


def photometric(images: Tensor, blur: bool = True, jitter: float = 0.4) -> Tensor:
    """Per-image Gaussian blur then colour jitter; images stay in [0, 1]."""
    gray = images.shape[1] == 1
    ops = []
    if blur:
        ops.append(v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.5))
    if jitter:
        ops.append(v2.ColorJitter(jitter, jitter, 0 if gray else jitter, 0 if gray else 0.1))
    t = v2.Compose(ops)
    out = torch.stack([t(im) for im in images])
    # On this machine a jittered image very rarely comes back with NaNs (once in ~11 k images
    # during hand2vec-ft, and not again when replayed from the same RNG state); one such batch
    # poisons every BatchNorm running statistic. Such an image is used un-jittered instead.
    bad = ~torch.isfinite(out).flatten(1).all(dim=1)
    if bad.any():
        out[bad] = images[bad]
    return out.clamp_(0, 1)


def noise_and_cutout(x: Tensor, gen: torch.Generator, noise: float = 0.01, cutout: int = 8) -> Tensor:
    """White Gaussian noise then one zeroed cutout square per image (after normalisation)."""
    n, _, h, w = x.shape
    # drawn from the trainer's (CPU) generator, so a seed gives the same draws on every device
    x = x + noise * torch.randn(x.shape, generator=gen).to(x.device)
    if cutout:
        side = max(1, round(cutout * h / 64))
        cy = torch.randint(0, h, (n,), generator=gen).to(x.device)
        cx = torch.randint(0, w, (n,), generator=gen).to(x.device)
        ys = torch.arange(h, device=x.device)[None, :, None]
        xs = torch.arange(w, device=x.device)[None, None, :]
        mask = ((ys - cy[:, None, None]).abs() <= side // 2) & ((xs - cx[:, None, None]).abs() <= side // 2)
        x = x.masked_fill(mask[:, None], 0.0)
    return x
