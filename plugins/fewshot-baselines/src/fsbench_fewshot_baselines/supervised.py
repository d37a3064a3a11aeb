"""`supervised-cnn`: the thesis's comparison — a plain CNN classifier over all classes, trained on
the fold's training signers and used as-is, with no adaptation to the test signer.

`embed` returns the class logits; the classifier reads the logits of the episode's classes.
Support examples are ignored except for naming the episode's classes, so its accuracy is the
same at every S: it is the classic cross-signer number. (For the same trained network adapted
to the support, use `finetune`, which shares its cached weights when the configs match.)
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from fsbench.api import LowShotClassifier
from fsbench.errors import FsbenchError

from fsbench_fewshot_baselines.classification import CLASSIFICATION_CONFIG, ClassificationMethod


class LogitClassifier(LowShotClassifier):
    """Scores = the network's own logits for the episode's classes; support is not used."""

    def __init__(self, trained_classes: list[int], stride: int = 1) -> None:
        self.trained, self.stride = set(trained_classes), stride  # class c's logit is column stride·c

    def fit(self, support: Tensor, labels: Tensor) -> "LogitClassifier":
        self.classes_ = torch.unique(torch.as_tensor(labels, dtype=torch.long))
        unseen = sorted(set(self.classes_.tolist()) - self.trained)
        if unseen:
            raise FsbenchError(
                f"supervised-cnn never trained on class(es) {unseen[:5]}; it cannot classify unseen "
                "classes — use a cross-signer split, or finetune/protonet for unseen-class"
            )
        return self

    def scores(self, queries: Tensor) -> Tensor:
        return queries[:, self.classes_ * self.stride]


class SupervisedCNN(ClassificationMethod):
    """A CNN classifier trained on the training signers' letters: its penultimate features are
    the embedding (the supervised reference of the thesis's tables)."""
    name: ClassVar[str] = "supervised-cnn"
    version: ClassVar[str] = "2"
    default_config: ClassVar[dict[str, Any]] = dict(CLASSIFICATION_CONFIG)

    def finetuned_embedding(self, features: Tensor) -> Tensor:
        """Logits of the fine-tuned head, in the dataset's label columns (untrained labels: 0, never read)."""
        assert self.net is not None
        with torch.no_grad():
            logits = self.net.objective.logits(features.to(next(self.net.objective.parameters()).device)).cpu()
        out = torch.zeros(len(features), int(self.meta["num_classes"]))
        out[:, torch.tensor(self.meta["train_classes"])] = logits.float()
        return out

    def make_classifier(self) -> LowShotClassifier:
        if self.net is None:
            raise FsbenchError("supervised-cnn must be fit before make_classifier")
        return self.registered_classifier() or LogitClassifier(self.meta["train_classes"], self.meta.get("label_stride", 1))
