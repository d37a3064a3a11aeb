"""What every method built on a trained `DualPathHead` shares: building, training and caching
the head, its classifier, and its record in the results file."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.errors import FsbenchError
from fsbench.heads.dualpath import DualPathHead
from fsbench.heads.train import train_head
from fsbench.runtime import torch_threads
from fsbench.training.cache import cache_key, model_path, train_or_load


#: "auto" squeezes features wider than this to SQUEEZE_TO first (the thesis head's 128-d input)
SQUEEZE_ABOVE, SQUEEZE_TO = 256, 128


def resolve_squeeze(squeeze: int | str, in_features: int) -> int:
    """`head.squeeze`: a width, 0 for none, or "auto" (SQUEEZE_TO when features are wide)."""
    if squeeze == "auto":
        return SQUEEZE_TO if in_features > SQUEEZE_ABOVE else 0
    return int(squeeze)


class HeadMethod(Method):
    """A `Method` whose `fit` sets `self.head` by `fit_head`; classifies with the head's learned
    α, β by the rule `config.classifier.name` names.

    Its config class has a `head` section (`fsbench.configs.sections.HeadConfig`: architecture, f
    and the §3.1.2 recipe), a `classifier` section (`ClassifierConfig`: rule and n0) and `threads`;
    `fit_head` hands `config.head` to `train_head` whole.
    """

    head: DualPathHead | None = None

    def build_head(self, in_features: int, seed: int) -> DualPathHead:
        """A seeded, untrained head: the same seed gives the same initial weights."""
        h = self.config.head
        factory = registry.get("heads", h.name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return factory(in_features, h.features, widths=h.widths, dropout=h.dropout,
                           input_norm=h.input_norm, squeeze=resolve_squeeze(h.squeeze, in_features))

    def fit_head(self, features: Tensor, labels: Tensor, seed: int, identity: str) -> DualPathHead:
        """Train (or load) the head on frozen `features`; `identity` names what the features are
        (backbone fingerprint + training rows), so a rerun with another S or episode count, or
        another fold sharing those features, trains nothing."""
        def train(head: DualPathHead) -> None:
            train_head(head, features, labels, self.config.head, seed, self.placement)

        with torch_threads(self.config.threads):
            # keyed by the threads, device and precision it trains with
            key = cache_key(self.name, identity, self.config_hash, seed, **self.placement.compute())
            head, _ = train_or_load(model_path("heads", self.name, key), key,
                                    lambda meta: self.build_head(features.shape[1], seed), train)
        return self.placement.module(head)  # a cache hit loads on the CPU

    def apply_head(self, features: Tensor) -> Tensor:
        """Embeddings of CPU `features` by the eval-mode head, computed on its device, back on the CPU."""
        assert self.head is not None, "call fit() first"
        with self.placement.autocast():
            return self.head.eval()(self.placement.put(features)).float().cpu()

    def make_classifier(self) -> LowShotClassifier:
        if self.head is None:
            raise FsbenchError(f"{self.name}.make_classifier() called before fit(); call fit() first")
        # the rule takes what it needs: the head's learned α, β (eqs 3.24–3.26) or the prior's n0
        c = self.config.classifier
        return registry.classifier(c.name, **self.head.learned(), n0=c.n0)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.head is not None:
            out["learned"] = self.head.learned()
        return out
