"""The §3.1.2 recipe for the two backbones: SGD Nesterov under warm-up + cosine warm restarts
(the schedule `fsbench.training.schedule` shares with the head), augmentation, channels_last.

`train_posenet` regresses Gaussian heatmaps (eqs 3.8–3.9) of (pseudo-)labelled keypoints;
`train_charnet` is plain cross-entropy classification. Both are seeded and deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fsbench.data.dataset import to_tensor
from fsbench.errors import FsbenchError
from fsbench.training.schedule import LRSchedule
from fsbench.progress import progress_bar
from fsbench_hand2vec.augment import noise_and_cutout, photometric
from fsbench_hand2vec.charnet import CharNet, normalise_gray
from fsbench_hand2vec.posenet import PoseNet, gaussian_targets, heatmap_loss, normalise

BACKBONE_DEFAULTS: dict[str, Any] = {
    "epochs": 20, "warmup_epochs": 5, "warmup_lr": 1e-5, "lr_max": 0.1, "lr_min": 1e-4,
    "batch_size": 1024, "momentum": 0.9, "weight_decay": 4e-5, "augment": True,
}


#: steps with a non-finite loss or gradient that a run may skip before it counts as diverged
MAX_BAD_STEPS = 10


def _loop(
    model: nn.Module,
    n: int,
    cfg: dict[str, Any],
    seed: int,
    step_loss: Callable[[Tensor, torch.Generator], Tensor],
    desc: str,
    clip: float | None = None,
    after_step: Callable[[], None] | None = None,
    prefix: str = "backbone_",
) -> nn.Module:
    """Shared epoch/step loop; `step_loss(indices, gen)` returns the mini-batch loss.

    `prefix` names the method config keys `cfg` came from, for the divergence error."""
    cfg = {**BACKBONE_DEFAULTS, **cfg}
    schedule = LRSchedule.from_config(cfg)
    batch = max(2, min(int(cfg["batch_size"]), n))
    steps = max(1, n // batch)
    opt = torch.optim.SGD(model.parameters(), lr=schedule(0), momentum=cfg["momentum"],
                          nesterov=True, weight_decay=cfg["weight_decay"])
    model.to(memory_format=torch.channels_last).train()
    bad = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        with progress_bar() as bar:
            task = bar.add_task(desc, total=int(schedule.epochs) * steps)
            for epoch in range(int(schedule.epochs)):
                perm = torch.randperm(n, generator=gen)
                for step in range(steps):
                    for g in opt.param_groups:
                        g["lr"] = schedule(epoch + step / steps)
                    loss = step_loss(perm[step * batch : (step + 1) * batch], gen)
                    opt.zero_grad(set_to_none=True)
                    finite = bool(torch.isfinite(loss))
                    if finite:
                        loss.backward()
                        # small CPU batches at the thesis's lr (set for batch 1024) blow up
                        finite = bool(torch.isfinite(nn.utils.clip_grad_norm_(model.parameters(), clip or float("inf"))))
                    if not finite:  # skip the step, not the run
                        bad += 1
                        if bad > MAX_BAD_STEPS:  # never cache a NaN network as if it were trained
                            raise FsbenchError(
                                f"{desc} diverged ({bad} steps with a non-finite loss or gradient, last at "
                                f"epoch {epoch}); lower {prefix}lr_max or raise {prefix}batch_size"
                            )
                        bar.advance(task)
                        continue
                    opt.step()
                    if after_step is not None:
                        after_step()
                    bar.advance(task)
    return model.eval()


def prepare_batch(images: np.ndarray, idx: Tensor, gray: bool, augment: bool, gen: torch.Generator) -> Tensor:
    """uint8 NHWC rows → augmented, normalised NCHW float in channels_last."""
    x = to_tensor(images[idx.numpy()])
    if augment:
        x = photometric(x, blur=True, jitter=0.4)
    x = normalise_gray(x) if gray else normalise(x)
    if augment:
        x = noise_and_cutout(x, gen)
    return x.contiguous(memory_format=torch.channels_last)


def train_posenet(images: np.ndarray, keypoints: np.ndarray, cfg: dict[str, Any], seed: int,
                  min_confidence: float = 0.3, radius: float = 2.0) -> PoseNet:
    """Fit Fig 3.1 on uint8 (N, 64, 64, 3) images and (N, 21, 3) keypoints (x, y, confidence)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = PoseNet()
    kp = torch.from_numpy(keypoints).float()
    weights = (kp[..., 2] >= min_confidence).float()
    augment = {**BACKBONE_DEFAULTS, **cfg}["augment"]

    def step_loss(idx: Tensor, gen: torch.Generator) -> Tensor:
        x = prepare_batch(images, idx, False, augment, gen)
        target = gaussian_targets(kp[idx, :, :2], images.shape[1], radius)
        return heatmap_loss(net(x), target, weights[idx])

    return _loop(net, len(images), cfg, seed, step_loss, "training hand-pose net", clip=5.0)


def train_charnet(images: np.ndarray, labels: np.ndarray, cfg: dict[str, Any], seed: int) -> CharNet:
    """Fit Fig 3.7 on uint8 (N, 28, 28, 1) images with labels 0..C−1 by cross-entropy."""
    num_classes = int(labels.max()) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = CharNet(num_classes)
    y = torch.from_numpy(labels).long()
    augment = {**BACKBONE_DEFAULTS, **cfg}["augment"]

    def step_loss(idx: Tensor, gen: torch.Generator) -> Tensor:
        x = prepare_batch(images, idx, True, augment, gen)
        return nn.functional.cross_entropy(net(x), y[idx])

    return _loop(net, len(images), cfg, seed, step_loss, "training character net")
