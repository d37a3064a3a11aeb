"""The contracts every fsbench plugin implements.

Four small abstractions (backbone, head, classifier, split) and one bundle (`Method`) that
`fsbench run` calls. They are deliberately thin: a plugin author reads this file and nothing
else. The protocol's value types (`Fold`, `Episode`, `EpisodeSpec`) are defined here too; the
data types (`FsDataset`, `DatasetView`) live in `fsbench.data.dataset`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from torch import Tensor, nn

from fsbench import configs
from fsbench.configs import Config
from fsbench.device import CPU, Placement

if TYPE_CHECKING:
    from fsbench.cost import TrainingWork
    from fsbench.data.dataset import DatasetView, FsDataset

__all__ = [
    "PoseBackbone",
    "EmbeddingHead",
    "LowShotClassifier",
    "SignerSplit",
    "Method",
    "MasksInvalid",
    "EmbedsTensors",
    "Exportable",
    "KeepsPrior",
    "Finetunable",
    "Fold",
    "Episode",
    "EpisodeSpec",
    "canonical_hash",
    "config_hash",
]


def canonical_hash(obj: Any) -> str:
    """SHA-256 of canonical JSON (sorted keys, no spaces): the one identity hash of configs,
    splits and manifests, equal on every machine."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def config_hash(config: dict[str, Any]) -> str:
    """The identity of a method setting on a leaderboard."""
    return canonical_hash(config)


def method_hash(name: str, version: Any, config: Mapping[str, Any], late_keys: Mapping[str, Any] | None) -> str:
    """A method's config hash: its canonical config with its name and version. A plain-dict config
    (`late_keys` given) leaves out the keys added after boards were published while they hold
    their old values, so those entries keep their hashes; the one rule for runs and board
    migration alike."""
    if late_keys is not None:
        config = {k: v for k, v in config.items() if k not in late_keys or v != late_keys[k]}
    return config_hash({"method": name, "version": version, **config})


@dataclass(frozen=True)
class Fold:
    """Which rows train the method and which rows are tested on, and why."""

    name: str
    kind: str  # "cross-signer" | "same-signer" | "unseen-class"
    train: np.ndarray
    test: np.ndarray
    train_signers: tuple[str, ...]
    test_signers: tuple[str, ...]
    test_classes: tuple[int, ...]

    def manifest(self, data: "FsDataset") -> dict[str, Any]:
        train_ids = sorted(data.ids[self.train].tolist())
        test_ids = sorted(data.ids[self.test].tolist())
        return {
            "name": self.name,
            "kind": self.kind,
            "train_signers": list(self.train_signers),
            "test_signers": list(self.test_signers),
            "n_train": len(train_ids),
            "n_test": len(test_ids),
            "train_ids_sha256": canonical_hash(train_ids),
            "test_ids_sha256": canonical_hash(test_ids),
        }


@dataclass(frozen=True)
class Episode:
    """One low-shot episode: support rows with labels handed to the classifier, query rows."""

    fold: int
    index: int
    signer: str | None
    shots: int
    support: np.ndarray
    query: np.ndarray
    classes: np.ndarray
    capped_classes: int = 0
    support_condition: str | None = field(default=None)
    #: cross-condition: classes left out because the test signer has no image of them in the support condition
    dropped_classes: int = 0


@dataclass(frozen=True)
class EpisodeSpec:
    shots: int
    episodes: int
    seed: int
    ways: int | None = None  # classes per episode (None: every test class)
    cross_condition: bool = False




class PoseBackbone(ABC):
    """Images → fixed-size features (and, if it can, hand keypoints).

    `features` takes a float tensor (N, C, H, W) in [0, 1] of the declared `input_size` and
    `channels`; `fingerprint` identifies weights + config so frozen features can be cached.
    """

    input_size: tuple[int, int] = (64, 64)
    channels: int = 3
    feature_dim: int
    #: where `features` computes (set by `place`; the CPU in fp32 until then)
    placement: Placement = CPU

    def place(self, placement: Placement) -> "PoseBackbone":
        """Compute on `placement` from now on: every torch module attribute moves there.

        A backbone that cannot run there (e.g. a native CPU library) overrides this and keeps the
        CPU; callers read `placement` back and hand it batches on that device."""
        self.placement = placement
        for value in vars(self).values():
            if isinstance(value, nn.Module):
                placement.module(value)
        return self

    @abstractmethod
    def features(self, images: Tensor) -> Tensor:
        """(N, C, H, W) float in [0, 1] → (N, feature_dim) float."""

    def keypoints(self, images: Tensor) -> Tensor:
        """(N, C, H, W) → (N, 21, 3) pixel x, y and confidence. Optional capability."""
        raise NotImplementedError(f"{type(self).__name__} does not localise keypoints")

    @abstractmethod
    def fingerprint(self) -> str:
        """Content hash of weights and config; equal fingerprints ⇒ equal features."""


class EmbeddingHead(nn.Module, ABC):
    """Features (N, D) → unit-norm embeddings (N, f), compared by a learned similarity."""

    in_features: int
    out_features: int

    @abstractmethod
    def forward(self, features: Tensor) -> Tensor:
        """(N, D) → (N, f) with ‖row‖ = 1."""

    def similarity(self, a: Tensor, b: Tensor) -> Tensor:
        """(Na, f) × (Nb, f) → (Na, Nb) similarity; cosine unless the head learns more."""
        return a @ b.T


class LowShotClassifier(ABC):
    """Classifies queries against S labelled support embeddings per class.

    `fit` may be called many times (once per episode); it must be cheap and must not learn
    anything that outlives the episode unless it says so in its docstring.
    """

    classes_: Tensor
    #: what a score means, said beside every score `fsbench predict` prints (their scales differ)
    score_meaning: ClassVar[str] = "the classifier's own score: higher is more likely; not a probability"

    @abstractmethod
    def fit(self, support: Tensor, labels: Tensor) -> "LowShotClassifier":
        """Remember the support set (Ns, f) with integer labels (Ns,)."""

    @abstractmethod
    def scores(self, queries: Tensor) -> Tensor:
        """(Nq, f) → (Nq, len(classes_)) scores, higher is more likely."""

    def predict_topk(self, queries: Tensor, k: int = 1) -> Tensor:
        """(Nq, f) → (Nq, k) predicted labels, best first."""
        s = self.scores(queries)
        k = min(k, s.shape[1])
        return self.classes_[s.topk(k, dim=1).indices]


class SignerSplit(ABC):
    """Dataset → deterministic folds naming who (or what) is trained on and tested on."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def folds(self, data: "FsDataset", seed: int) -> list["Fold"]:
        """Return the folds; identical for identical (data.content_hash, seed)."""


class Method(ABC):
    """A complete low-shot method: what it trains on the training part of a fold, and how it
    embeds images. `fsbench run --method NAME` instantiates it with a config and calls
    `fit` once per fold, then `embed` on the test images; the evaluator does the rest.

    Honest-protocol rule: `fit` receives only the fold's training view. Support examples of a
    test signer reach the method only as embeddings handed to its classifier.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0"
    #: the method's typed config: a frozen `fsbench.configs.Config` dataclass whose fields (and
    #: sections: backbone, head, train, classifier) hold every setting with its one default;
    #: `self.config` is an instance of it, built from the run's overrides (`--set head.epochs=5`)
    config_class: ClassVar[type[Config] | None] = None
    #: the plain-dict alternative for plugins without a config class: key → default (checked
    #: against the default's type, or `config_types` / `config_choices` / `config_ranges`)
    default_config: ClassVar[dict[str, Any]] = {}
    #: a small override of the defaults (nested, or dotted keys) that `fsbench demo` uses (a few
    #: minutes on 2 cores); empty means the method is too slow for the demo and is skipped there
    demo_config: ClassVar[dict[str, Any]] = {}
    #: a small override that makes `fit` take seconds on the tiny synthetic dataset: what the
    #: parametrised contract test (tests/test_registered.py) runs for every installed method
    test_config: ClassVar[dict[str, Any]] = {}
    #: "tiny" (synthetic bars) or "real-hands" for methods whose detector needs real hands; the
    #: contract test skips the latter with that reason (their plugin tests use real images)
    test_data: ClassVar[str] = "tiny"
    #: "test-signer": prototypes come from the S support examples only.
    #: "test-signer+train": support is joined with training-signer embeddings of the same classes.
    support_source: ClassVar[str] = "test-signer"
    #: False for a method whose `fit` learns nothing from the data (a frozen or fixed embedding):
    #: its seed then only redraws episodes, which a board's CI already resamples, so its board entry
    #: keeps one seed while a trained method's pools three (fsbench.sweep.from_board)
    trains: ClassVar[bool] = True
    #: the installed distribution that registered the method (set by the runner from the registry)
    distribution: str = "unknown"
    #: where fit and embed compute (fsbench.device): the run's, set by `place` before `fit`
    placement: Placement = CPU

    #: plain-dict configs only (typed configs say it in their annotations): unions such as
    #: "auto"|int as `config_types = {"epochs": (str, int)}`, enums as `config_choices =
    #: {"mode": ("RGB", "L")}`, inclusive bounds as `config_ranges = {"size": (1, 512)}`
    config_types: ClassVar[dict[str, tuple[type, ...]]] = {}
    config_choices: ClassVar[dict[str, tuple[Any, ...]]] = {}
    config_ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {}
    #: plain-dict configs only: keys added to `default_config` after entries of this version were
    #: published, each with the value that keeps the old behaviour: at that value a key stays out
    #: of `config_hash`, so a published entry's hash still names the same config. (A typed config
    #: is hashed whole; its older entries are migrated instead: fsbench/boards/migrate.py.)
    late_keys: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: Mapping[str, Any] | Config | None = None) -> None:
        self.config: Any = self.make_config(config)

    @classmethod
    def make_config(cls, overrides: Mapping[str, Any] | Config | None = None) -> Any:
        """The config `overrides` (nested or dotted keys) make: a `config_class` instance, or for a
        plain-dict method the checked dict. Wrong keys and values are one-line `ConfigError`s."""
        if cls.config_class is not None:
            return configs.build(cls.config_class, overrides, f"method {cls.name!r}")
        return configs.check_config(cls.name, cls.default_config, overrides, cls.config_types,
                                    cls.config_choices, cls.config_ranges)

    @classmethod
    def stored_config(cls, stored: Mapping[str, Any]) -> dict[str, Any]:
        """A config as a board or results file stored it → today's form (a flat legacy config of a
        typed method is migrated by its `legacy_keys`; values keep their meaning)."""
        if cls.config_class is None:
            return dict(stored)
        return configs.as_dict(configs.from_stored(cls.config_class, stored, f"method {cls.name!r}"))

    def config_dict(self) -> dict[str, Any]:
        """The config in canonical JSON form: what results record and the config hash covers."""
        return configs.as_dict(self.config) if isinstance(self.config, configs.Config) else dict(self.config)

    @property
    def config_hash(self) -> str:
        """The canonical hash of the whole config, with the method's name and version (`method_hash`)."""
        late = None if isinstance(self.config, configs.Config) else self.late_keys
        return method_hash(self.name, self.version, self.config_dict(), late)

    def place(self, placement: Placement) -> "Method":
        """Compute on `placement` (device, precision) from now on; returns self. A method hands it
        on to what it builds (backbones, heads, trainers, classifiers) and returns embeddings on the CPU."""
        self.placement = placement
        return self

    def fit(self, train: "DatasetView", seed: int) -> None:  # noqa: B027 - training-free methods
        """Learn from the fold's training view only. Default: nothing to learn."""

    def training_work(self, train: "DatasetView", seed: int) -> "TrainingWork | None":
        """What `fit(train, seed)` will cost, counted before it runs, for the plan line `fsbench run`
        prints first (fsbench/cost.py). None: the method does not say, and no time is estimated."""
        return None

    @abstractmethod
    def embed(self, view: "DatasetView") -> Tensor:
        """Embeddings (N, f) for every image of `view`, in view order."""

    @abstractmethod
    def make_classifier(self) -> LowShotClassifier:
        """A fresh classifier for one episode."""

    def describe(self) -> dict[str, Any]:
        """What a results file records about this method."""
        return {
            "name": self.name,
            "version": self.version,
            "config": self.config_dict(),
            "config_hash": self.config_hash,
            "support_source": self.support_source,
            "trains": self.trains,
        }


# Optional capabilities: a method offers one by defining the method; callers ask with isinstance.


@runtime_checkable
class MasksInvalid(Protocol):
    """A method that cannot embed some images (e.g. no hand detected) says which; the evaluator
    skips those queries and support rows and counts them in the results."""

    def valid_mask(self, view: "DatasetView") -> np.ndarray: ...


@runtime_checkable
class EmbedsTensors(Protocol):
    """Differentiable embedding of image tensors: what `fsbench report --with-embeddings` needs
    for its similarity-gradient maps."""

    def embed_tensor(self, images: Tensor) -> Tensor: ...


@runtime_checkable
class Exportable(Protocol):
    """[0, 1] images → embeddings as one module, and its (C, H, W) input: what `fsbench export`
    writes to ONNX."""

    def inference_module(self) -> tuple[nn.Module, tuple[int, int, int]]: ...


@runtime_checkable
class KeepsPrior(Protocol):
    """A classifier that starts each class from what the training signers taught (a prior) and
    lets a new signer's S examples move it, so one noisy example cannot replace it. The evaluator
    hands it the embeddings of the fold's *training* rows of the episode's classes before `fit`
    (never a test-signer row besides the S support), and at S = 0 fits it on no support at all."""

    def with_prior(self, embeddings: Tensor, labels: Tensor) -> "LowShotClassifier": ...


@runtime_checkable
class Finetunable(Protocol):
    """A backbone whose network a trainer may fine-tune (fsbench.training.finetune): its trainable
    `module`, the input it takes, and that network in pieces, so the first ones can stay frozen:
    `features(x)` equals the last stage's output after all of them on `prepare(x)`, (N, feature_dim)."""

    module: nn.Module

    def prepare(self, images: Tensor, size: int | None = None) -> Tensor:
        """(N, C, H, W) in [0, 1] → the network's input at `size` px (None: its own size)."""
        ...

    def stages(self) -> list[nn.Module]:
        """The network's pieces in order (they share `module`'s parameters)."""
        ...
