"""`protonet`: Prototypical networks (Snell et al. 2017), trained episodically on the fold.

Embeddings are compared with the mean embedding (prototype) of each class's support, by
negative squared Euclidean distance (the paper's choice and the default) or by cosine
similarity times a fixed scale. `make_classifier` returns the core fsbench prototype
classifier with the same metric, so evaluation uses exactly the rule training optimised.

Support source: `protonet` builds prototypes from the test signer's S support only
(`support_source = "test-signer"`); `protonet-joint` (or config
`support_source: "test-signer+train"`) asks the evaluator to add the training signers'
embeddings of the same classes to the support. At S=0 both use training-signer support.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import LowShotClassifier

from fsbench_fewshot_baselines.episodic import EPISODIC_CONFIG, EPISODIC_TRAIN_KEYS, EpisodicMethod, class_means

SUPPORT_SOURCES = ("test-signer", "test-signer+train")
CLASSIFIER_FOR_METRIC = {"euclidean": "euclid-prototype", "cosine": "prototype"}


class ProtoNet(EpisodicMethod):
    """Prototypical networks (Snell et al. 2017): episodic training, nearest class-mean embedding."""
    name: ClassVar[str] = "protonet"
    version: ClassVar[str] = "2"
    default_config: ClassVar[dict[str, Any]] = {
        **EPISODIC_CONFIG,
        "metric": "euclidean",  # euclidean (Snell et al.) | cosine
        "cosine_scale": 10.0,  # temperature of the cosine variant during training
        "support_source": "test-signer",
    }
    train_keys: ClassVar[tuple[str, ...]] = (*EPISODIC_TRAIN_KEYS, "metric", "cosine_scale")
    #: the `fast` config (tests, `fsbench demo`): the same recipe stopped early (docs/baselines.md)
    demo_config: ClassVar[dict[str, Any]] = {"episodes": 100}

    config_choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        **EpisodicMethod.config_choices, "support_source": SUPPORT_SOURCES,
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        # An instance attribute so `describe()` and the evaluator see the configured choice.
        self.support_source = self.config["support_source"]

    def episode_logits(self, support: Tensor, support_labels: Tensor, query: Tensor, ways: int) -> Tensor:
        protos = class_means(support, support_labels, ways)
        if self.config["metric"] == "cosine":
            return self.config["cosine_scale"] * F.normalize(query, dim=1) @ F.normalize(protos, dim=1).T
        return -squared_distances(query, protos)

    def make_classifier(self) -> LowShotClassifier:
        return self.registered_classifier() or registry.get("classifiers", CLASSIFIER_FOR_METRIC[self.config["metric"]])()


class ProtoNetJoint(ProtoNet):
    """ProtoNet whose prototypes also average the training signers' embeddings of each class."""

    name: ClassVar[str] = "protonet-joint"
    support_source: ClassVar[str] = "test-signer+train"
    default_config: ClassVar[dict[str, Any]] = {
        **ProtoNet.default_config, "support_source": "test-signer+train",
    }
    trainer: ClassVar[str] = "protonet"  # same network as protonet: share cached weights
    demo_config: ClassVar[dict[str, Any]] = {}  # unseen classes have no training-signer support


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """(Na, Nb) ‖a_i − b_j‖², expanded so gradients stay finite at zero distance."""
    return (a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)[None, :]
