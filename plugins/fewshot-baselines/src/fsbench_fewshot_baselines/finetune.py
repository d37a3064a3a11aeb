"""`finetune`: Baseline / Baseline++ of Chen et al. (2019), "A closer look at few-shot classification".

Train backbone + classifier on the fold's training view (shared with `supervised-cnn`), throw
the head away, and for every episode fit a new head on the support embeddings: a linear layer
(Baseline, `head: linear`) or a scaled-cosine layer (Baseline++, `head: cosine`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.api import LowShotClassifier
from fsbench.device import CPU, Placement
from fsbench.errors import FsbenchError
from fsbench.training.loop import Plan, fit
from fsbench.training.optim import OptimizerSpec
from fsbench.training.schedule import Constant

from fsbench_fewshot_baselines.classification import CLASSIFICATION_CONFIG, ClassificationMethod, HEADS


class FinetuneHead(LowShotClassifier):
    """A new linear or cosine head trained on one episode's support, then discarded.

    Deterministic by construction: zero-initialised linear weights or cosine weights set to the
    normalised class means, and full-batch Adam for `steps` steps — no randomness at all.
    """

    def __init__(self, head: str = "linear", steps: int = 100, lr: float = 0.01,
                 weight_decay: float = 1e-3, scale: float = 10.0, placement: Placement = CPU) -> None:
        if head not in HEADS:
            raise FsbenchError(f"finetune head must be one of {HEADS}, not {head!r}")
        self.head, self.steps, self.lr, self.weight_decay, self.scale = head, steps, lr, weight_decay, scale
        self.placement = placement

    def _logits(self, x: Tensor) -> Tensor:
        if self.head == "cosine":
            return self.scale * F.normalize(x, dim=1) @ F.normalize(self.weight_, dim=1).T
        return x @ self.weight_.T + self.bias_

    def fit(self, support: Tensor, labels: Tensor) -> "FinetuneHead":
        if len(support) == 0:
            raise ValueError("a low-shot classifier needs at least one support example")
        labels = torch.as_tensor(labels, dtype=torch.long)
        self.classes_, pos = torch.unique(labels, return_inverse=True)
        x, pos = self.placement.put(support.detach().float()), self.placement.put(pos)
        c = len(self.classes_)
        params = nn.Module()  # the episode's head, trained by the one loop
        if self.head == "cosine":
            means = x.new_zeros(c, x.shape[1]).index_add_(0, pos, F.normalize(x, dim=1))
            params.weight = nn.Parameter(F.normalize(means, dim=1))
        else:
            params.weight = nn.Parameter(x.new_zeros(c, x.shape[1]))
            params.bias = nn.Parameter(x.new_zeros(c))
        self.weight_, self.bias_ = params.weight, getattr(params, "bias", None)
        fit(params, Plan.repeat(self.steps, lambda: x), lambda batch: F.cross_entropy(self._logits(batch), pos),
            optimizer=OptimizerSpec("adam", weight_decay=self.weight_decay), schedule=Constant(self.lr),
            placement=self.placement, guard=False)
        self.weight_ = self.weight_.detach()
        if self.head == "linear":
            self.bias_ = self.bias_.detach()
        return self

    @torch.no_grad()
    def scores(self, queries: Tensor) -> Tensor:
        return self._logits(self.placement.put(queries.float())).cpu()


class Finetune(ClassificationMethod):
    """Baseline / Baseline++ (Chen et al. 2019): a network trained by classification on the training
    signers, then a new linear or cosine classifier fitted on each episode's support set."""
    name: ClassVar[str] = "finetune"
    version: ClassVar[str] = "2"
    default_config: ClassVar[dict[str, Any]] = {
        **CLASSIFICATION_CONFIG,
        "finetune_steps": 100,
        "finetune_lr": 0.01,
        "finetune_weight_decay": 1e-3,
    }
    #: the `fast` config (tests, `fsbench demo`): the same recipe stopped early (docs/baselines.md)
    demo_config: ClassVar[dict[str, Any]] = {"epochs": 2}

    def forward_embed(self, x: Tensor) -> Tensor:
        assert self.net is not None
        return self.net.backbone(x)

    def make_classifier(self) -> LowShotClassifier:
        c = self.config
        return self.registered_classifier() or FinetuneHead(c["head"], int(c["finetune_steps"]), float(c["finetune_lr"]),
                            float(c["finetune_weight_decay"]), float(c["cosine_scale"]), self.placement)
