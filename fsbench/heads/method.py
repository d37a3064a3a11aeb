"""What every method built on a trained `DualPathHead` shares: its classifier and its record."""

from __future__ import annotations

from typing import Any

from fsbench.api import LowShotClassifier, Method
from fsbench.errors import FsbenchError
from fsbench.heads.dualpath import DualPathHead


class HeadMethod(Method):
    """A `Method` whose `fit` sets `self.head`; classifies with the head's learned α, β using the
    rule named by `config["classifier"]`, and records them in the results file."""

    head: DualPathHead | None = None

    def make_classifier(self) -> LowShotClassifier:
        if self.head is None:
            raise FsbenchError(f"{self.name}.make_classifier() called before fit(); call fit() first")
        return self.head.classifier(self.config["classifier"])

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.head is not None:
            out["learned"] = self.head.learned()
        return out
