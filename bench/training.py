"""Training throughput (images/s) of the pose network and the embedding head, 2 threads.

    python bench/training.py [--quick]

A few optimiser steps of each on real Massey images (64 px) / features through the plugin's
own training step (augmentation included), after one warm-up step. The baseline is the
contiguous-memory pose net; the plugin trains in channels_last.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fsbench.data.hub import resolve_dataset  # noqa: E402
from fsbench.heads import DualPathHead, pairwise_siamese_loss  # noqa: E402
from fsbench_hand2vec.posenet import PoseNet, gaussian_targets, heatmap_loss  # noqa: E402
from fsbench_hand2vec.trainers import prepare_batch  # noqa: E402


def posenet_step(images: np.ndarray, batch: int, channels_last: bool):
    net = PoseNet().train()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    gen = torch.Generator().manual_seed(0)
    kp = torch.rand(len(images), 21, 2, generator=gen) * 64

    def step():
        idx = torch.randint(0, len(images), (batch,), generator=gen)
        x = prepare_batch(images, idx, False, True, gen)
        x = x if channels_last else x.contiguous()
        loss = heatmap_loss(net(x), gaussian_targets(kp[idx], 64))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def head_step(feats: torch.Tensor, labels: torch.Tensor, batch: int):
    head = DualPathHead(feats.shape[1], 10).train()
    opt = torch.optim.SGD(head.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    gen = torch.Generator().manual_seed(0)

    def step():
        idx = torch.randint(0, len(feats), (batch,), generator=gen)
        loss = pairwise_siamese_loss(head(feats[idx]), labels[idx], head.alpha, head.beta, 36)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    quick = common.quick_flag()
    data = resolve_dataset("massey")
    images = data.images(np.arange(0, len(data), 2 if quick else 1), 64, "RGB")
    reps = 2 if quick else 5
    rows = []
    base = None
    for name, cl in (("pose net, contiguous (baseline)", False), ("pose net, channels_last (plugin)", True)):
        t = common.timeit(posenet_step(images, 64, cl), repeats=reps)
        base = base or 64 / t
        rows.append({"step": name, "batch": 64, "img/s": round(64 / t, 1), "× baseline": round(64 / t / base, 2)})
    g = torch.Generator().manual_seed(0)
    feats, labels = torch.randn(len(data), 128, generator=g), torch.from_numpy(data.labels)
    t = common.timeit(head_step(feats, labels, 256), repeats=reps * 5)
    rows.append({"step": "dual-path head (128 → 10), pairwise loss", "batch": 256, "img/s": round(256 / t, 1),
                 "× baseline": round(256 / t / base, 2)})
    common.show(f"training throughput, {common.THREADS} threads", rows, ["step", "batch", "img/s", "× baseline"])
    path = common.write("training", rows)
    print(f"peak RSS {common.peak_rss_mb()} MB; wrote {path}")


if __name__ == "__main__":
    main()
