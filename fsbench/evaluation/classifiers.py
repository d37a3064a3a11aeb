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
  prior-prototype  argmax_c cos(φ(x), n0·prior_c + Σ_i φ(x_i,c)), all φ unit-norm, prior_c the
                   training signers' unit class mean: S = 0 is the prior, n0 = 0 plain prototypes
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench.api import LowShotClassifier
from fsbench.configs import PRIOR_DEFAULTS


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

    @property
    def score_meaning(self) -> str:  # type: ignore[override]
        return {
            "max": "the head's logit β + α²·cos to the letter's closest support image (σ of it is the similarity, "
                   "0–1); higher is closer, not a probability",
            "mean": "mean similarity σ(β + α²·cos) to the letter's support images, 0–1; not a probability",
            "softmax": "the letter's share of a softmax over every support image, 0–1, summing to 1 over letters: "
                       "uncalibrated",
        }[self.rule]

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

    @property
    def score_meaning(self) -> str:  # type: ignore[override]
        if self.metric == "cosine":
            return "cosine similarity to the letter's mean support embedding, −1 to 1; not a probability"
        return ("minus the squared Euclidean distance to the letter's mean support embedding: 0 is identical, "
                "more negative is farther; not a probability")

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


class PriorPrototypeClassifier(LowShotClassifier):
    """Cosine prototypes that keep the training signers' class prototype as n0 pseudo-examples.

    p_c = normalise(n0 · prior_c + Σ_i u_i,c) with u the L2-normalised support embeddings of c and
    prior_c the normalised mean of the normalised training-view embeddings of c (`with_prior`,
    handed over by the evaluator: fsbench.api.KeepsPrior). One noisy support example then moves
    the prototype by 1/(n0 + 1) instead of replacing it. Classes with a prior and no support keep
    the prior (at any n0); without a prior, or with n0 = 0, a class with support is the cosine
    prototype of its unit embeddings.
    """

    score_meaning = ("cosine similarity to the letter's prototype (support and training-signer prior), −1 to 1; "
                     "not a probability")

    def __init__(self, n0: float = PRIOR_DEFAULTS["n0"]) -> None:
        if not float(n0) >= 0:
            raise ValueError(f"prior-prototype n0 must be ≥ 0, not {n0!r}")
        self.n0 = float(n0)
        self._prior_labels = torch.zeros(0, dtype=torch.long)
        self._prior: Tensor | None = None

    def with_prior(self, embeddings: Tensor, labels: Tensor) -> "PriorPrototypeClassifier":
        """Remember prior_c for every class in `labels` (training-signer rows only)."""
        labels = torch.as_tensor(labels, dtype=torch.long)
        if len(labels):
            self._prior_labels, pos = torch.unique(labels, return_inverse=True)
            self._prior = F.normalize(_class_sums(F.normalize(embeddings.float(), dim=1), pos,
                                                  len(self._prior_labels)), dim=1)
        return self

    def fit(self, support: Tensor, labels: Tensor) -> "PriorPrototypeClassifier":
        labels = torch.as_tensor(labels, dtype=torch.long)
        if len(support) == 0 and self._prior is None:
            raise ValueError("a low-shot classifier needs at least one support example (or a prior)")
        self.classes_ = torch.unique(torch.cat([labels, self._prior_labels]))
        width = support.shape[1] if len(support) else self._prior.shape[1]  # type: ignore[union-attr]
        sums = torch.zeros(len(self.classes_), width)
        pos = torch.searchsorted(self.classes_, labels)
        if len(support):
            sums += _class_sums(F.normalize(support.float(), dim=1), pos, len(self.classes_))
        if self._prior is not None:
            at = torch.searchsorted(self.classes_, self._prior_labels)
            # a class without support is its prior, whatever n0 (the limit of n0·prior alone)
            weight = torch.where(torch.isin(at, pos), self.n0, 1.0)
            sums[at] += weight[:, None] * self._prior
        self.prototypes_ = F.normalize(sums, dim=1)
        return self

    def scores(self, queries: Tensor) -> Tensor:
        return F.normalize(queries.float(), dim=1) @ self.prototypes_.T


def _class_sums(x: Tensor, pos: Tensor, classes: int) -> Tensor:
    """(classes, f) sum of the rows of `x` per class position: one BLAS call, as the prototypes do."""
    return F.one_hot(pos, classes).T.float() @ x


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


def prior_prototype(n0: float = PRIOR_DEFAULTS["n0"]) -> PriorPrototypeClassifier:
    return PriorPrototypeClassifier(n0)
