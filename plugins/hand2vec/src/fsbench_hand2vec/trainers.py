"""The §3.1.2 recipe for the two backbones: SGD Nesterov under warm-up + cosine warm restarts
(fsbench's one training loop, `fsbench.training.loop`, shared with the heads), augmentation, channels_last.

`train_posenet` regresses Gaussian heatmaps (eqs 3.8–3.9) of (pseudo-)labelled keypoints;
`train_charnet` is plain cross-entropy classification. Both train the net they are given in place
(its initial weights are the caller's: `fsbench.training.cache.train_or_load` builds it) and are
seeded and deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fsbench.data.dataset import to_tensor
from fsbench.device import CPU, Placement
from fsbench.training.loop import fit_shuffled
from fsbench_hand2vec.augment import noise_and_cutout, photometric
from fsbench_hand2vec.charnet import CharNet, normalise_gray
from fsbench_hand2vec.posenet import PoseNet, gaussian_targets, heatmap_loss, normalise

def prepare_batch(images: np.ndarray, idx: Tensor, gray: bool, augment: bool, gen: torch.Generator,
                  placement: Placement = CPU) -> Tensor:
    """uint8 NHWC rows → augmented, normalised NCHW float in channels_last, on `placement`'s device
    (the batch moves once, pinned; augmentation runs there)."""
    x = placement.put(to_tensor(images[idx.numpy()]))
    if augment:
        x = photometric(x, blur=True, jitter=0.4)
    x = normalise_gray(x) if gray else normalise(x)
    if augment:
        x = noise_and_cutout(x, gen)
    return x.contiguous(memory_format=torch.channels_last)


def train_posenet(net: PoseNet, images: np.ndarray, keypoints: np.ndarray, cfg: dict[str, Any], seed: int,
                  min_confidence: float = 0.3, radius: float = 2.0, placement: Placement = CPU) -> PoseNet:
    """Fit Fig 3.1 in place on uint8 (N, 64, 64, 3) images and (N, 21, 3) keypoints (x, y, confidence).

    `cfg`: the SGD recipe of hand2vec's `backbone` section and its `augment` (every value given)."""
    kp = placement.put(torch.from_numpy(keypoints).float())
    weights = (kp[..., 2] >= min_confidence).float()
    def step_loss(idx: Tensor, gen: torch.Generator) -> Tensor:
        x = prepare_batch(images, idx, False, cfg["augment"], gen, placement)
        target = gaussian_targets(kp[idx, :, :2], images.shape[1], radius)
        return heatmap_loss(net(x), target, weights[idx])

    return fit_shuffled(net, len(images), cfg, seed, step_loss, "training hand-pose net", clip=5.0, prefix="backbone.",
                        placement=placement)


def train_charnet(net: CharNet, images: np.ndarray, labels: np.ndarray, cfg: dict[str, Any], seed: int,
                  placement: Placement = CPU) -> CharNet:
    """Fit Fig 3.7 in place on uint8 (N, 28, 28, 1) images with labels 0..C−1 by cross-entropy."""
    y = placement.put(torch.from_numpy(labels).long())

    def step_loss(idx: Tensor, gen: torch.Generator) -> Tensor:
        x = prepare_batch(images, idx, True, cfg["augment"], gen, placement)
        return nn.functional.cross_entropy(net(x), y[idx])

    return fit_shuffled(net, len(images), cfg, seed, step_loss, "training character net", prefix="backbone.",
                        placement=placement)
