"""`matchingnet`: Matching networks (Vinyals et al. 2016) without full-context embeddings.

A query's class distribution is an attention-weighted vote of the support labels,
a(x, x_i) = softmax_i(τ · cos(f(x), f(x_i))), trained episodically. The embedding is
L2-normalised, so the core `softmax` classifier with α² = τ computes exactly this vote at
evaluation time. Training episodes are shaped like the test's, as in the paper (20-way 1-shot,
the Omniglot board's). The optional FCE LSTMs of the paper are not implemented (Chen et al.
2019 report them as a small change on Conv-4); `version` will change if they are added.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import LowShotClassifier

from fsbench_fewshot_baselines.episodic import EPISODIC_CONFIG, EPISODIC_TRAIN_KEYS, EpisodicMethod


class MatchingNet(EpisodicMethod):
    """Matching networks (Vinyals et al. 2016): episodic training, attention over the support set."""
    name: ClassVar[str] = "matchingnet"
    version: ClassVar[str] = "2"
    # Vinyals et al. train on episodes like the test's (20-way 1-shot on the Omniglot board); the
    # --dev curve on Omniglot peaks at 250-500 episodes and falls 3 points by 1000 (docs/baselines.md)
    default_config: ClassVar[dict[str, Any]] = {
        **EPISODIC_CONFIG, "episodes": 500, "train_ways": 20, "temperature": 10.0,
    }
    train_keys: ClassVar[tuple[str, ...]] = (*EPISODIC_TRAIN_KEYS, "temperature")
    #: the `fast` config (tests, `fsbench demo`): the same recipe stopped early (docs/baselines.md)
    demo_config: ClassVar[dict[str, Any]] = {"episodes": 250}

    def episode_logits(self, support: Tensor, support_labels: Tensor, query: Tensor, ways: int) -> Tensor:
        attention = (self.config["temperature"] * F.normalize(query, dim=1) @ F.normalize(support, dim=1).T).softmax(1)
        votes = attention @ F.one_hot(support_labels, ways).to(attention.dtype)
        return torch.log(votes.clamp_min(1e-12))  # cross-entropy of log-probabilities = NLL

    def forward_embed(self, x: Tensor) -> Tensor:
        assert self.net is not None
        return F.normalize(self.net(x), dim=1)

    def make_classifier(self) -> LowShotClassifier:
        alpha = math.sqrt(self.config["temperature"])
        return self.registered_classifier() or registry.get("classifiers", "softmax")(alpha=alpha, beta=0.0)
