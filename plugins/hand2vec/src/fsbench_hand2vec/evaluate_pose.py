"""Pose-net accuracy on the real annotated hands, and its inference speed.

    python -m fsbench_hand2vec.evaluate_pose [CHECKPOINT ...] [--out FILE]

For each checkpoint (or an untrained Fig 3.1 net when none is given, the floor): mean 2D
keypoint error in pixels at the 256-px scale the thesis reports (Fig 3.4: 64-px error × 4),
PCK@0.2 (a keypoint is correct within 0.2 × the hand bbox's longer side), over every visible
keypoint of the 19 COCO-style annotated hands; plus channels_last inference images/s.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from fsbench_hand2vec.checkpoint import load_checkpoint
from fsbench_hand2vec.keypoints import load_all
from fsbench_hand2vec.posenet import PoseNet, PoseNetBackbone


def keypoint_metrics(pred: np.ndarray, samples) -> dict[str, float]:
    """pred (N, 21, ≥2) in 64-px crop pixels vs the samples' visible keypoints."""
    errs, hits = [], []
    for p, s in zip(pred, samples):
        vis = s.keypoints[:, 2] > 0
        d = np.linalg.norm(p[vis, :2] - s.keypoints[vis, :2], axis=1)
        bbox_side = 64 / 1.5  # crops are the bbox's longer side padded by 25 % each way
        errs.append(d * 256 / 64)
        hits.append(d <= 0.2 * bbox_side)
    e, h = np.concatenate(errs), np.concatenate(hits)
    return {"mean_error_px_at_256": float(e.mean()), "pck@0.2": float(h.mean()), "keypoints": int(len(e))}


def throughput(backbone: PoseNetBackbone, n: int = 512, batch: int = 256) -> float:
    x = torch.rand(batch, 3, 64, 64)
    backbone.keypoints(x[:8])  # warm-up
    start = time.perf_counter()
    for _ in range(n // batch):
        backbone.keypoints(x)
    return n / (time.perf_counter() - start)


def evaluate(checkpoint: Path | None) -> dict:
    net = PoseNet()
    if checkpoint is not None:
        load_checkpoint(checkpoint, net, {"arch": "posenet"})
    backbone = PoseNetBackbone(net)
    samples = load_all(64)
    images = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).float() / 255
    pred = backbone.keypoints(images).numpy()
    return {"checkpoint": str(checkpoint) if checkpoint else "untrained (Xavier init)",
            **keypoint_metrics(pred, samples), "inference_img_per_s": throughput(backbone),
            "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="*", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = [evaluate(c) for c in (args.checkpoints or [None])]
    text = json.dumps(rows, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
