"""Training-time sampling inside a fold's training view: N-way K-shot episodes, class rotation.

Everything draws from an explicit numpy Generator so a training run is a pure function of
(training view, config, seed). These episodes are *training* episodes only; evaluation
episodes come from `fsbench.protocol.episodes.sample_episodes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fsbench.errors import FsbenchError


@dataclass(frozen=True)
class TrainEpisode:
    """Positions into the training tensors, and labels re-indexed 0..ways-1."""

    support: np.ndarray  # (ways*shots,)
    query: np.ndarray  # (ways*queries,)
    support_labels: np.ndarray
    query_labels: np.ndarray


class EpisodeSampler:
    """Draws N-way episodes with `shots` support and `queries` query images per class.

    Only classes with at least shots + queries images can be drawn. `ways` is capped at the
    number of such classes, so small training views still train (with fewer ways).
    """

    def __init__(self, labels: np.ndarray, ways: int, shots: int, queries: int) -> None:
        if shots < 1 or queries < 1 or ways < 2:
            raise FsbenchError(
                f"training episodes need ways ≥ 2, shots ≥ 1, queries ≥ 1 (got {ways}, {shots}, "
                f"{queries}); fix train_ways/train_shots/train_queries in the method config"
            )
        labels = np.asarray(labels)
        self.shots, self.queries = shots, queries
        self.by_class = {
            int(c): np.flatnonzero(labels == c)
            for c in np.unique(labels)
            if (labels == c).sum() >= shots + queries
        }
        self.classes = np.array(sorted(self.by_class))
        if len(self.classes) < 2:
            raise FsbenchError(
                f"the training view has {len(self.classes)} class(es) with ≥{shots + queries} images; "
                "lower train_shots/train_queries in the method config"
            )
        self.ways = min(ways, len(self.classes))

    def sample(self, rng: np.random.Generator) -> TrainEpisode:
        chosen = rng.choice(self.classes, self.ways, replace=False)
        support, query = [], []
        for c in chosen:
            rows = rng.choice(self.by_class[int(c)], self.shots + self.queries, replace=False)
            support.append(rows[: self.shots])
            query.append(rows[self.shots :])
        way = np.arange(self.ways)
        return TrainEpisode(
            np.concatenate(support),
            np.concatenate(query),
            np.repeat(way, self.shots),
            np.repeat(way, self.queries),
        )


def rotate_classes(images: Tensor, labels: np.ndarray) -> tuple[Tensor, np.ndarray]:
    """Snell et al.'s Omniglot augmentation: each 90° rotation of a class is a new class.

    Class c rotated by k·90° becomes class 4c + k, so the original label survives as label // 4.
    """
    rotated = [torch.rot90(images, k, dims=(2, 3)) for k in range(4)]
    labels = np.asarray(labels, dtype=np.int64)
    new_labels = np.concatenate([labels * 4 + k for k in range(4)])
    return torch.cat(rotated), new_labels


def rotation_on(config: dict[str, Any], mode: str) -> bool:
    """Rotated classes are new classes for characters (Snell et al.), never for hands."""
    value = config["rotate_classes"]  # config_choices: auto, true or false
    return mode == "L" if value == "auto" else bool(value)


def random_affine(
    x: Tensor, gen: torch.Generator, degrees: float = 10.0, translate: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
) -> Tensor:
    """A different small rotation/shift/zoom per image, vectorised (one grid_sample call).

    Drawn from `gen` so augmented training stays deterministic for a seed. No flips: a
    mirrored hand is the other hand, and some letters differ only by orientation.
    """
    n = len(x)
    u = torch.rand(n, 4, generator=gen)
    angle = (u[:, 0] * 2 - 1) * degrees * torch.pi / 180
    s = scale[0] + u[:, 1] * (scale[1] - scale[0])
    tx, ty = (u[:, 2] * 2 - 1) * translate, (u[:, 3] * 2 - 1) * translate
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack(
        [torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1
    )
    # drawn from the trainer's (CPU) generator, so a seed gives the same draws on every device
    grid = torch.nn.functional.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, padding_mode="border", align_corners=False)
