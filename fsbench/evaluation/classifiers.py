"""Low-shot classifiers over embeddings: the thesis's three prototype rules and the
prototypical-network mean prototype, vectorised over queries and support (no Python loops).

With the similarity p = σ(β + α²·φ(x)·φ(x_i,c)) of eq. 3.23:
  max      argmax_c max_i p_i,c                      (eq. 3.24, the thesis's choice; scored by
                                                       the logit β + α²·φ·φ, which ranks the same
                                                       but never saturates into ties as σ does)
  mean     argmax_c 1/S Σ_i p_i,c                    (eq. 3.25)
  softmax  argmax_c Σ_i softmax_{i,c}(β + α²·φ·φ)    (eq. 3.26)
  prototype        argmax_c cos(φ(x), mean_i φ(x_i,c))       (Snell et al. 2017, cosine)
  euclid-prototype argmax_c −‖φ(x) − mean_i φ(x_i,c)‖²     (Snell et al. 2017)
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench.api import LowShotClassifier


class _SupportClassifier(LowShotClassifier):
    """Shared fit: keep support and map labels to class positions 0..C-1."""

    def fit(self, support: Tensor, labels: Tensor) -> "_SupportClassifier":
        if len(support) == 0:
            raise ValueError("a low-shot classifier needs at least one support example")
        labels = torch.as_tensor(labels, dtype=torch.long)
        self.classes_, self._pos = torch.unique(labels, return_inverse=True)
        self._support = support.float()
        return self


class SimilarityClassifier(_SupportClassifier):
    """σ(β + α²·cos) similarity to every prototype, aggregated per class by `rule`."""

    def __init__(self, rule: str = "max", alpha: float = 1.0, beta: float = 0.0) -> None:
        if rule not in ("max", "mean", "softmax"):
            raise ValueError(f"unknown rule {rule!r}; use max, mean or softmax")
        self.rule, self.alpha, self.beta = rule, float(alpha), float(beta)

    def scores(self, queries: Tensor) -> Tensor:
        logits = self.beta + self.alpha**2 * (queries.float() @ self._support.T)  # (Q, Ns)
        index = self._pos.expand_as(logits)
        out = logits.new_zeros(len(queries), len(self.classes_))
        if self.rule == "max":  # σ is monotone, so rank by the logit: σ saturates to 1.0 (ties)
            return out.fill_(-torch.inf).scatter_reduce(1, index, logits, "amax")
        if self.rule == "mean":
            return out.scatter_reduce(1, index, torch.sigmoid(logits), "mean", include_self=False)
        return out.scatter_add(1, index, logits.softmax(dim=1))


class PrototypeClassifier(_SupportClassifier):
    """Nearest class mean, by cosine (unit-sphere embeddings) or squared Euclidean distance."""

    def __init__(self, metric: str = "cosine") -> None:
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"unknown metric {metric!r}; use cosine or euclidean")
        self.metric = metric

    def fit(self, support: Tensor, labels: Tensor) -> "PrototypeClassifier":
        super().fit(support, labels)
        onehot = F.one_hot(self._pos, len(self.classes_)).T.float()  # (C, Ns): one BLAS call
        self.prototypes_ = (onehot @ self._support) / onehot.sum(dim=1, keepdim=True)
        return self

    def scores(self, queries: Tensor) -> Tensor:
        q = queries.float()
        if self.metric == "cosine":
            return F.normalize(q, dim=1) @ F.normalize(self.prototypes_, dim=1).T
        return -torch.cdist(q, self.prototypes_).pow(2)


def max_rule(alpha: float = 1.0, beta: float = 0.0) -> SimilarityClassifier:
    return SimilarityClassifier("max", alpha, beta)


def mean_rule(alpha: float = 1.0, beta: float = 0.0) -> SimilarityClassifier:
    return SimilarityClassifier("mean", alpha, beta)


def softmax_rule(alpha: float = 1.0, beta: float = 0.0) -> SimilarityClassifier:
    return SimilarityClassifier("softmax", alpha, beta)


def cosine_prototype() -> PrototypeClassifier:
    return PrototypeClassifier("cosine")


def euclidean_prototype() -> PrototypeClassifier:
    return PrototypeClassifier("euclidean")
