"""What every method built on a trained `DualPathHead` shares: building, training and caching
the head, its classifier, and its record in the results file."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.configs import PRIOR_DEFAULTS
from fsbench.errors import FsbenchError
from fsbench.heads.dualpath import DualPathHead
from fsbench.heads.train import train_head
from fsbench.runtime import torch_threads
from fsbench.training.cache import cache_key, model_path, train_or_load


#: "auto" squeezes features wider than this to SQUEEZE_TO first (the thesis head's 128-d input)
SQUEEZE_ABOVE, SQUEEZE_TO = 256, 128


def resolve_squeeze(squeeze: int | str, in_features: int) -> int:
    """`head_squeeze`: a width, 0 for none, or "auto" (SQUEEZE_TO when features are wide)."""
    if squeeze == "auto":
        return SQUEEZE_TO if in_features > SQUEEZE_ABOVE else 0
    return int(squeeze)


class HeadMethod(Method):
    """A `Method` whose `fit` sets `self.head` by `fit_head`; classifies with the head's learned
    α, β using the rule named by `config["classifier"]`.

    Config keys read here: `head` (a registered `fsbench.heads` entry, default dualpath),
    `features` (f), `head_*` (architecture and the §3.1.2 recipe), `beta_weight`, `threads`.
    """

    head: DualPathHead | None = None

    def head_config(self) -> dict[str, Any]:
        """The training recipe: every `head_*` key without its prefix, plus beta_weight."""
        cfg = {k[len("head_"):]: v for k, v in self.config.items() if k.startswith("head_")}
        return {**cfg, "beta_weight": self.config["beta_weight"]}

    def build_head(self, in_features: int, seed: int) -> DualPathHead:
        """A seeded, untrained head: the same seed gives the same initial weights."""
        factory = registry.get("heads", self.config.get("head", "dualpath"))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return factory(in_features, self.config["features"], widths=self.config.get("head_widths"),
                           dropout=self.config.get("head_dropout", 0.5),
                           input_norm=self.config.get("head_input_norm", False),
                           squeeze=resolve_squeeze(self.config.get("head_squeeze", 0), in_features))

    def fit_head(self, features: Tensor, labels: Tensor, seed: int, identity: str) -> DualPathHead:
        """Train (or load) the head on frozen `features`; `identity` names what the features are
        (backbone fingerprint + training rows), so a rerun with another S or episode count, or
        another fold sharing those features, trains nothing."""
        def train(head: DualPathHead) -> None:
            train_head(head, features, labels, self.head_config(), seed, self.placement)

        with torch_threads(self.config.get("threads", 0)):
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
        return registry.classifier(self.config["classifier"], **self.head.learned(),
                                   **{k: self.config[k] for k in PRIOR_DEFAULTS if k in self.config})

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.head is not None:
            out["learned"] = self.head.learned()
        return out
