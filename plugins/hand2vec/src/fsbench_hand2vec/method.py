"""`hand2vec`: train a backbone on the fold's training view, freeze it, learn a siamese head.

fit(train, seed):
  1. backbone — a pretrained pose net from any registered `fsbench.backbones` entry (e.g.
     `mediapipe-handnet`: MediaPipe's hand-landmark CNN, frozen as it was trained), or one trained
     here: the Fig 3.1 pose net for colour hand images (keypoints pseudo-labelled on the training
     view only — by MediaPipe Hands, or distilled from `mediapipe-handnet`'s keypoints) or the
     Fig 3.7 character net for grayscale characters; trained ones go through fsbench's one
     trained-model cache (`train_or_load`), keyed by (config, training-view fingerprint, seed);
  2. frozen features of the training view, cached by (backbone fingerprint, rows);
  3. a DualPathHead trained with the pairwise siamese loss on those features.
embed(view) → unit embeddings; make_classifier() → the σ(β + α²·cos) rule with the learned α, β.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from fsbench import registry
from fsbench.api import PoseBackbone
from fsbench.configs import as_dict, get, override
from fsbench.configs.sections import recipe
from fsbench.cost import TrainingWork
from fsbench.data.dataset import DatasetView
from fsbench.errors import FsbenchError
from fsbench.features import backbone_features
from fsbench.heads import DualPathHead
from fsbench.heads.method import SQUEEZE_ABOVE, SQUEEZE_TO, HeadMethod
from fsbench.runtime import torch_threads
from fsbench.training.cache import cache_key, model_path, train_or_load
from fsbench_hand2vec.charnet import CharNet, CharNetBackbone
from fsbench_hand2vec.config import Hand2VecConfig
from fsbench_hand2vec.fast import embedding_module, fast_features
from fsbench_hand2vec.posenet import PoseNet, PoseNetBackbone
from fsbench_hand2vec.pseudolabel import pseudo_label, resolve_labeller
from fsbench_hand2vec.trainers import train_charnet, train_posenet


#: backbones hand2vec trains itself; any other name is a registered, pretrained backbone
TRAINED = ("posenet", "charnet")
#: the backbone "auto" picks for colour hand images, selected with `fsbench run --dev` on
#: Massey's training signers between the three pose nets (docs/hand2vec.md)
AUTO_BACKBONE = "mediapipe-handnet"
#: the demo's backbone (Omniglot: characters, where ImageNet features beat the hand net)
DEMO_BACKBONE = "imagenet-efficientnet-lite0"
#: CPU budgets per backbone, where the config says "auto" (docs/hand2vec.md). The pose net's is
#: the Massey board's: 5 leave-signer-out folds cold in ~10 min on 2 cores (8 epochs on every
#: training image take ~35); the character net's is the Omniglot board's, ~3 min
BACKBONE_BUDGETS: dict[str, dict[str, Any]] = {
    "posenet": {"backbone.epochs": 4, "backbone.max_images": 600, "backbone.lr_max": 0.02, "head.features": 10},
    "charnet": {"backbone.epochs": 8, "backbone.max_images": 0, "backbone.lr_max": 0.1, "head.features": 10},
    # a registered pretrained backbone: nothing to train; f = 64 on its wide features was selected
    # with --dev on Massey's training signers (f = 10: 72.4 / 88.1 %, f = 64: 77.9 / 91.3 % at S = 0 / 4)
    "pretrained": {"head.features": 64},
}


def resolve_budget(config: Hand2VecConfig, kind: str) -> Hand2VecConfig:
    """`config` with every "auto" setting replaced by `kind`'s (any registered backbone: "pretrained")."""
    budget = BACKBONE_BUDGETS.get(kind, BACKBONE_BUDGETS["pretrained"])
    return override(config, {k: v for k, v in budget.items() if get(config, k) == "auto"}, "hand2vec")


def is_grayscale(view: DatasetView, sample: int = 32) -> bool:
    """True when sampled images have R = G = B (characters), decided from the data itself."""
    idx = np.linspace(0, len(view) - 1, min(sample, len(view))).astype(int)
    im = view.subset(idx).images(16, "RGB").astype(np.int16)
    return bool(np.abs(im[..., 0] - im[..., 1]).max() <= 2 and np.abs(im[..., 1] - im[..., 2]).max() <= 2)


def balanced_subset(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """≈limit positions, the same share of every class, seeded; sorted (view order kept)."""
    rng = np.random.default_rng([seed, 97])
    share = limit / len(labels)
    picks = [rng.permutation(np.flatnonzero(labels == c))[: max(1, round(share * np.sum(labels == c)))]
             for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


class Hand2Vec(HeadMethod):
    """The thesis method: a frozen hand-pose network's features → a siamese dual-path embedding
    (Fig 3.9) trained on the training signers, classified by the σ(β + α²·cos) rules."""

    name: ClassVar[str] = "hand2vec"
    version: ClassVar[str] = "1"
    config_class = Hand2VecConfig
    config: Hand2VecConfig
    # the demo (Omniglot 20-way): the head on frozen ImageNet features at 128 px, 49.5 / 59.7 % at
    # S = 1 / 5 for ~55 CPU-s, where the char net needs 8 epochs (~300 s) for 50 / 61 % (3 epochs:
    # 17 / 19 %, below pixels); the char net where plugins/pretrained is not installed
    demo_config: ClassVar[dict[str, Any]] = (
        {"backbone": {"name": DEMO_BACKBONE, "options": {"input_size": 128}}}
        if DEMO_BACKBONE in registry.names("backbones") else {"backbone.epochs": 8})
    auto_backbone: ClassVar[str] = AUTO_BACKBONE
    #: what each "auto" resolves to, said by `fsbench info hand2vec` (read from source: literals,
    #: constants and f-strings only, so no torch import is needed to print it)
    config_auto: ClassVar[dict[str, str]] = {
        "backbone.name": f"{AUTO_BACKBONE} on colour images, charnet on grayscale ones (characters)",
        "head.features": f"{BACKBONE_BUDGETS['pretrained']['head.features']} on a pretrained backbone, "
                         f"{BACKBONE_BUDGETS['posenet']['head.features']} on posenet or charnet",
        "backbone.epochs": f"posenet {BACKBONE_BUDGETS['posenet']['backbone.epochs']}, charnet "
                           f"{BACKBONE_BUDGETS['charnet']['backbone.epochs']}; a pretrained backbone trains nothing",
        "backbone.lr_max": f"posenet {BACKBONE_BUDGETS['posenet']['backbone.lr_max']}, "
                           f"charnet {BACKBONE_BUDGETS['charnet']['backbone.lr_max']}",
        "backbone.max_images": f"posenet {BACKBONE_BUDGETS['posenet']['backbone.max_images']} (a seeded "
                               "class-balanced subset), charnet 0 (every training image)",
        "head.squeeze": f"{SQUEEZE_TO} when the backbone's features are wider than {SQUEEZE_ABOVE}, else none",
    }
    test_config: ClassVar[dict[str, Any]] = {
        "backbone": {"name": "posenet", "keypoint_source": "none", "epochs": 1, "warmup_epochs": 0, "batch_size": 16},
        "head": {"epochs": 2, "warmup_epochs": 0, "batch_size": 16, "widths": [136], "features": 4},
    }

    def __init__(self, config: Mapping[str, Any] | Hand2VecConfig | None = None) -> None:
        super().__init__(config)
        known = ("auto", *TRAINED, *registry.names("backbones"))
        if self.config.backbone.name not in known:
            raise FsbenchError(f"hand2vec backbone {self.config.backbone.name!r} is unknown; use auto, posenet or "
                               f"charnet (trained here) or a registered backbone: {', '.join(known[3:])}")
        self.backbone: PoseBackbone | None = None
        self.head: DualPathHead | None = None

    # -- backbone -----------------------------------------------------------------------
    def _kind(self, train: DatasetView) -> str:
        if self.config.backbone.name != "auto":
            return self.config.backbone.name
        return "charnet" if is_grayscale(train) else self.auto_backbone

    def fit_backbone(self, train: DatasetView, seed: int) -> PoseBackbone:
        kind = self._kind(train)
        self.config = resolve_budget(self.config, kind)  # so results record the numbers that ran
        bb = self.config.backbone
        if kind not in TRAINED:  # pretrained elsewhere: frozen as it is, nothing learned here
            return registry.get("backbones", kind)(**bb.options).place(self.placement)
        if 0 < bb.max_images < len(train):  # CPU budget: a seeded class-balanced part of the training view
            train = train.subset(balanced_subset(train.labels, bb.max_images, seed))
        # only backbone settings key the checkpoint (pooling reads the net, it does not train it):
        # a new head, f or classifier reuses it
        material = {k: v for k, v in as_dict(bb).items() if k != "pooling"}
        key = cache_key(material, train.fingerprint, int(seed), kind, **self.placement.compute())
        path = model_path("hand2vec", f"backbone-{kind}", key)
        cfg = {**recipe(bb), "augment": bb.augment}
        # seeded: the same initial weights for a (config, view, seed); "arch" in the saved meta lets
        # `load_checkpoint` take a cache file as a user checkpoint (posenet's checkpoint=, evaluate_pose)
        if kind == "charnet":
            labels = np.unique(train.labels, return_inverse=True)[1]

            def train_char(net: CharNet) -> None:
                train_charnet(net, train.images(28, "L"), labels, cfg, seed, self.placement)

            meta = {"arch": "charnet", "num_classes": int(labels.max()) + 1}
            net, _ = train_or_load(path, key, lambda m: CharNet(m["num_classes"]), train_char, meta, seed=seed)
            return CharNetBackbone(net).place(self.placement)

        def train_pose(net: PoseNet) -> None:
            if bb.keypoint_source == "none":  # ablation / hand2vec-ft: no pose pretraining
                return
            keypoints = pseudo_label(train, resolve_labeller(bb.keypoint_source), size=64)
            train_posenet(net, train.images(64, "RGB"), keypoints, cfg, seed, bb.min_confidence,
                          placement=self.placement)

        net, _ = train_or_load(path, key, lambda m: PoseNet(), train_pose, {"arch": "posenet"}, seed=seed)
        return PoseNetBackbone(net, pooling=bb.pooling).place(self.placement)

    # -- features -----------------------------------------------------------------------
    def features(self, view: DatasetView) -> Tensor:
        """Frozen backbone features of `view`, through fsbench's one feature cache."""
        assert self.backbone is not None, "call fit() first"
        trained_here = isinstance(self.backbone, (PoseNetBackbone, CharNetBackbone)) and self.placement.default
        # on the CPU the nets trained here run as ONNX Runtime graphs when installed (~2× eager)
        return backbone_features(self.backbone, view, encode=fast_features(self.backbone) if trained_here else None)

    # -- Method -------------------------------------------------------------------------
    def training_work(self, train: DatasetView, seed: int) -> TrainingWork | None:
        """A pretrained backbone's features of every training image, then the head's epochs; the
        nets trained here (posenet, charnet) are not priced (None: no time estimate)."""
        kind = self._kind(train)
        if kind in TRAINED:
            return None
        epochs, batch = self.config.head.epochs, self.config.head.batch_size
        steps = epochs * max(1, len(train) // batch)
        options = self.config.backbone.options  # e.g. the demo's input_size: another price
        variant = f"{kind}:{json.dumps(options, sort_keys=True)}" if options else kind
        return TrainingWork(steps=steps, images=steps * min(batch, len(train)), frozen=True, frozen_train=True,
                            variant=variant, what=f"{kind} features, then a head of {epochs} epochs",
                            shorten=f"a shorter head training (--set head.epochs={max(1, epochs // 3)})")

    def fit(self, train: DatasetView, seed: int) -> None:
        with torch_threads(self.config.threads):
            self._fit(train, seed)

    def _fit(self, train: DatasetView, seed: int) -> None:
        self.backbone = self.fit_backbone(train, seed)
        identity = f"{self.backbone.fingerprint()}|{train.fingerprint}"
        self.head = self.fit_head(self.features(train), torch.from_numpy(train.labels), seed, identity)

    @torch.inference_mode()
    def embed(self, view: DatasetView) -> Tensor:
        if self.head is None:
            raise FsbenchError("hand2vec.embed() called before fit(); call fit(train_view, seed) first")
        with torch_threads(self.config.threads):
            return self.apply_head(self.features(view))

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if getattr(self.backbone, "pretrained", None):  # outside weights are named on the board
            out["pretrained"] = self.backbone.pretrained
        return out

    def inference_module(self) -> tuple[torch.nn.Module, tuple[int, int, int]]:
        """[0, 1] images → embeddings as one module, and its (C, H, W) input: what `fsbench export` writes."""
        if self.head is None or self.backbone is None:
            raise FsbenchError("hand2vec.inference_module() called before fit(); call fit() first")
        return embedding_module(self.backbone, self.head), (self.backbone.channels, *self.backbone.input_size)
