"""What a fine-tuning run minimises, and what each of its steps is fed.

An `Objective` is a module (its own parameters — a classifier head — train at the head's rate)
with `loss(features, labels)` over a batch of pooled backbone features and `batches(labels, …)`,
the index arrays of one epoch. Two live here: `CrossEntropy` (a cosine or linear head over the
training classes, label smoothing; shuffled batches) and `Episodic` (a method's own episode
logits — protonet's prototypes — on N-way K-shot episodes drawn from the training view).
Methods bring their own the same way (hand2vec-ft's pairwise siamese loss on its head).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.errors import FsbenchError

HEADS = ("cosine", "linear")


class Objective(nn.Module):
    """A loss over pooled features; default batches: a seeded permutation in batches of `batch`."""

    #: what keys the trained-model cache besides the recipe (a subclass adds its settings)
    def identity(self) -> dict:
        return {"objective": type(self).__name__}

    def loss(self, features: Tensor, labels: Tensor) -> Tensor:
        raise NotImplementedError

    def after_step(self) -> None:
        """Called after every optimiser step (e.g. to keep a learned scale in bounds)."""

    def batches(self, labels: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
        """One epoch's micro-batches: a permutation cut into `batch`-sized pieces, the ragged end
        dropped (BatchNorm needs more than one row), at least one."""
        order = rng.permutation(len(labels))
        batch = max(2, min(batch, len(labels)))
        return [order[i : i + batch] for i in range(0, len(order) - batch + 1, batch)] or [order]


class CrossEntropy(Objective):
    """Cross-entropy with label smoothing of a classifier head over the training classes:
    `cosine` (scale · cos to learned class vectors, Baseline++) or `linear`."""

    def __init__(self, head: str, in_features: int, classes: int, smoothing: float = 0.1,
                 scale: float = 10.0) -> None:
        super().__init__()
        if head not in HEADS:
            raise FsbenchError(f"fine-tuning head {head!r} is unknown; use one of {', '.join(HEADS)}")
        self.kind, self.smoothing, self.scale = head, float(smoothing), float(scale)
        if head == "cosine":
            self.weight = nn.Parameter(torch.randn(classes, in_features) * 0.01)
        else:
            self.linear = nn.Linear(in_features, classes)

    def identity(self) -> dict:
        return {"objective": "cross-entropy", "head": self.kind, "smoothing": self.smoothing, "scale": self.scale}

    def logits(self, features: Tensor) -> Tensor:
        if self.kind == "cosine":
            return self.scale * F.normalize(features, dim=1) @ F.normalize(self.weight, dim=1).T
        return self.linear(features)

    def loss(self, features: Tensor, labels: Tensor) -> Tensor:
        return F.cross_entropy(self.logits(features), labels, label_smoothing=self.smoothing)


#: a method's episode logits: (support features, support labels 0..ways−1, query features, ways) → (Nq, ways)
EpisodeLogits = Callable[[Tensor, Tensor, Tensor, int], Tensor]


class Episodic(Objective):
    """Cross-entropy of a method's own episode logits on N-way K-shot episodes of the training view;
    an epoch is as many episodes as the view has images for (at least one)."""

    def __init__(self, logits: EpisodeLogits, ways: int, shots: int, queries: int, name: str) -> None:
        super().__init__()
        self.logits, self.ways, self.shots, self.queries, self.name = logits, ways, shots, queries, name

    def identity(self) -> dict:
        return {"objective": "episodic", "logits": self.name, "ways": self.ways, "shots": self.shots,
                "queries": self.queries}

    def batches(self, labels: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Episodes as index arrays, support rows first (`ways`·`shots`), then the queries; each
        class drawn from those with enough images (fewer classes when too few have)."""
        classes, counts = np.unique(labels, return_counts=True)
        per = self.shots + self.queries
        usable = classes[counts >= per]
        if len(usable) < 2:
            raise FsbenchError(f"episodic fine-tuning needs 2 classes with ≥ {per} training images each "
                               f"(train_shots + train_queries); lower them")
        ways = min(self.ways, len(usable))
        out = []
        for _ in range(max(1, len(labels) // (ways * per))):
            picked = rng.choice(usable, ways, replace=False)
            rows = [rng.choice(np.flatnonzero(labels == c), per, replace=False) for c in picked]
            out.append(np.concatenate([np.concatenate([r[: self.shots] for r in rows]),
                                       np.concatenate([r[self.shots :] for r in rows])]))
        return out

    def loss(self, features: Tensor, labels: Tensor) -> Tensor:
        ways = len(features) // (self.shots + self.queries)
        ns = ways * self.shots
        # positions 0..ways−1 in the order the episode's classes were drawn
        _, pos = torch.unique_consecutive(labels[:ns], return_inverse=True)
        query_pos = pos.view(ways, self.shots)[:, 0].repeat_interleave(self.queries)
        return F.cross_entropy(self.logits(features[:ns], pos, features[ns:], ways), query_pos)
