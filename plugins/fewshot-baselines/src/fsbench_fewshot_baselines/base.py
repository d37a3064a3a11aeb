"""What every baseline here shares: input conventions, cached training, batched embedding.

A subclass says which config keys change its trained weights (`train_keys`), which key counts
its training length (`length_key`: episodes or epochs), how to build its network from saved
metadata (`build`) and how to train it (`train_net`). `fit` then trains or loads the weights
through `fsbench.training.cache.train_or_load`, keyed by (trainer, training config, resolved
input, train-view fingerprint, seed).

Learning curves train once: config `snapshots` (a list of step counts) saves the training state
at those steps as the cache entries of those shorter runs, and a longer run resumes from the
longest of them (checkpoints.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.configs import PRIOR_DEFAULTS, PRIOR_RANGES
from fsbench.cost import TrainingWork
from fsbench.data.dataset import DatasetView, Mode
from fsbench.errors import FsbenchError
from fsbench.runtime import torch_threads
from fsbench.training.cache import cache_key, load_model, model_path, save_model, train_or_load
from fsbench.training.finetune import Finetuned, Recipe
from fsbench.training.objectives import Objective

from fsbench_fewshot_baselines.backbones import BACKBONES, RegisteredNet, registered_backbone
from fsbench_fewshot_baselines import pretrained
from fsbench_fewshot_baselines.checkpoints import Checkpoints

GRAYSCALE_PIL_MODES = {"1", "L", "LA", "I", "I;16", "F", "P"}

#: config keys every trained baseline has
COMMON_CONFIG: dict[str, Any] = {
    "backbone": "conv4",  # conv4 | resnet12 | a registered backbone with `.module` (fsbench list backbones)
    "backbone_args": {},  # keyword arguments of a registered backbone, e.g. {"input_size": 96}
    "width": 64,  # conv4 channels
    "resnet_widths": [32, 64, 128, 256],
    "size": "auto",  # input side; auto: 28 grey / 32 RGB (conv4, resnet12), the card's stored size otherwise
    "mode": "auto",  # RGB | L | auto (from the raw images)
    "invert": "auto",  # auto: invert where the dataset card says the foreground is dark (Omniglot)
    "embed_batch": 256,
    "threads": 0,  # torch threads for training/embedding; 0 keeps torch's setting (1 is faster on a loaded machine)
    "snapshots": [],  # also save (and resume from) the state after these many steps: learning curves train once
    # auto: the method's own rule; or any registered classifier, e.g. prior-prototype (with n0)
    "classifier": "auto",
    **PRIOR_DEFAULTS,
    # a registered backbone in stages (mediapipe-handnet, imagenet-efficientnet-lite0) is fine-tuned by
    # fsbench's one trainer: these override its settings (fsbench.training.finetune.Recipe; pretrained.py)
    "recipe": {},
}
#: keys added after the boards' entries were published, at the values that keep their meaning
LATE_KEYS: dict[str, Any] = {"classifier": "auto", **PRIOR_DEFAULTS, "recipe": {}}
COMMON_TRAIN_KEYS = ("backbone", "backbone_args", "width", "resnet_widths")


@dataclass(frozen=True)
class Input:
    """How a view is turned into network input: side, colour mode, and whether to invert."""

    size: int
    mode: Mode
    invert: bool

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    def pixels(self, view: DatasetView) -> Tensor:
        """The whole view as uint8 (N, C, H, W): small enough in memory, converted per batch."""
        x = torch.from_numpy(np.ascontiguousarray(view.images(self.size, self.mode))).permute(0, 3, 1, 2)
        return (255 - x if self.invert else x).contiguous()

    def batches(self, view: DatasetView, batch: int):
        for x in view.tensors(self.size, self.mode, batch):
            yield 1 - x if self.invert else x


def detect_mode(view: DatasetView, probe: int = 8) -> Mode:
    """"L" when the first raw images of the view are grayscale, else "RGB".

    Reads a handful of encoded cells (no full decode), so choosing the mode costs nothing.
    A colour-typed image whose three channels are identical counts as grayscale.
    """
    import datasets

    rows = [int(i) for i in view.indices[:probe]]
    if not rows:
        raise FsbenchError("the training view is empty; check the split and dataset")
    cells = (
        view.dataset.hf.select(rows).select_columns(["image"])
        .cast_column("image", datasets.Image(decode=False))["image"]
    )
    for cell in cells:
        src = io.BytesIO(cell["bytes"]) if cell.get("bytes") else cell["path"]
        with Image.open(src) as im:
            if im.mode in GRAYSCALE_PIL_MODES:
                continue
            arr = np.asarray(im.convert("RGB"))
            if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2])):
                return "RGB"
    return "L"


def as_float(x: Tensor) -> Tensor:
    return x.float().div_(255)


class TrainedMethod(Method):
    """A `Method` whose `fit` trains (or loads) one network per (fold training view, seed)."""

    #: config keys that change the trained weights (besides the resolved input)
    train_keys: ClassVar[tuple[str, ...]] = COMMON_TRAIN_KEYS
    #: the config key that counts training steps (what `snapshots` refers to)
    length_key: ClassVar[str] = "episodes"
    #: methods with the same trainer and training config share cached weights
    trainer: ClassVar[str] = ""

    #: "auto" or a registered classifier's name (checked against the registry when it is built)
    config_types: ClassVar[dict[str, tuple[type, ...]]] = {"classifier": (str,)}
    config_choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "mode": ("auto", "RGB", "L"), "invert": ("auto", True, False), "rotate_classes": ("auto", True, False),
        "head": ("linear", "cosine"), "metric": ("euclidean", "cosine"),
    }
    config_ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "size": (16, 1024), "width": (1, None), "embed_batch": (1, None), "threads": (0, None),
        "episodes": (1, None), "epochs": (1, None), "train_ways": (2, None), "train_shots": (1, None),
        "train_queries": (1, None), "batch_size": (2, None), "lr": (0, None), "lr_halve_every": (1, None),
        **PRIOR_RANGES,
    }
    late_keys: ClassVar[dict[str, Any]] = LATE_KEYS

    #: what each "auto" (and the empty recipe) resolves to (`fsbench info` prints it; `resolve_input` and `rotation_on` decide it)
    config_auto: ClassVar[dict[str, str]] = {
        "size": "28 for grayscale, 32 for colour (conv4, resnet12); a registered backbone: the card's stored size",
        "mode": "L (grayscale) where the sampled images are grey, else RGB; a registered backbone: its channels",
        "invert": "on where the dataset card says the foreground is dark (Omniglot's strokes)",
        "rotate_classes": "on for grayscale (character) data, off for hands",
        "classifier": "the method's own rule (protonet: its metric's prototypes; matchingnet: softmax "
                      "attention; finetune: a head fitted on the support; supervised-cnn: its logits)",
        "recipe": "a backbone in stages (mediapipe-handnet, imagenet-efficientnet-lite0) trains by fsbench's "
                  "fine-tuning trainer: on a CPU its last 2 stages on 4 cached views, on a GPU every stage; "
                  "overrides any FinetuneRecipe field, e.g. {\"stages\": -1, \"views\": 0}",
    }

    net: nn.Module | None = None

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.net = None
        self.meta: dict[str, Any] = {}
        self.trainings: list[dict[str, Any]] = []

    # -- subclass hooks -------------------------------------------------------------------
    def build(self, meta: dict[str, Any]) -> nn.Module:
        """A fresh network for saved metadata (channels, classes, …)."""
        raise NotImplementedError

    def train_net(self, net: nn.Module, images: Tensor, labels: np.ndarray, seed: int, ckpt: Checkpoints) -> None:
        """Train `net` in place on uint8 images (N, C, H, W), starting at `ckpt.restore(...)` and
        reporting every finished step to `ckpt.after(...)`."""
        raise NotImplementedError

    def forward_embed(self, x: Tensor) -> Tensor:
        """Embeddings of a float batch; default: the whole network."""
        assert self.net is not None
        return self.net(x)

    def registered_classifier(self) -> LowShotClassifier | None:
        """The registered classifier the config names instead of the method's own rule (None: auto)."""
        name = self.config["classifier"]
        return None if name == "auto" else registry.classifier(name, n0=self.config["n0"])

    def objective(self, recipe: Recipe, dim: int, classes: int) -> Objective:
        """What fine-tuning a registered backbone minimises for this method (pretrained.py)."""
        raise NotImplementedError

    def finetuned_embedding(self, features: Tensor) -> Tensor:
        """A fine-tuned backbone's pooled features → this method's embedding (default: themselves)."""
        return features

    def extra_meta(self, inp: Input) -> dict[str, Any]:
        """What `build` needs besides the input and classes (saved beside the weights)."""
        return {}

    # -- shared machinery -----------------------------------------------------------------
    def resolve_input(self, view: DatasetView) -> Input:
        """Size, mode and inversion: the config's, or for `auto` what the data and its card say."""
        card, registered = view.dataset.card, registered_class(self.config["backbone"])
        mode = self.config["mode"]  # config_choices: auto, RGB or L
        if mode == "auto":
            mode = detect_mode(view) if registered is None else ("L" if getattr(registered, "channels", 3) == 1 else "RGB")
        size = self.config["size"]
        if size == "auto":
            size = (28 if mode == "L" else 32) if registered is None else (card.image_size if card else 64)
        if not isinstance(size, int) or size < 16:
            raise FsbenchError(f"config 'size' must be 'auto' or an int ≥ 16, not {size!r}")
        invert = self.config["invert"]  # config_choices: auto, true or false
        if invert == "auto":
            invert = card is not None and card.foreground == "dark"
        return Input(size, mode, invert)

    def cache_key(self, train: DatasetView, seed: int, inp: Input, **override: Any) -> str:
        return cache_key(
            self.trainer or self.name, self.version,
            {**{k: self.config[k] for k in self.train_keys}, **override},
            {"size": inp.size, "mode": inp.mode, "invert": inp.invert},
            train.fingerprint, int(seed), self.starting_weights(),
            threads=self.config["threads"],  # what train_fn trains with (0: torch's current count)
            **self.placement.compute(),
        )

    def resumable(self, train: DatasetView, seed: int, inp: Input) -> dict[str, Any] | None:
        """The longest saved shorter run of this config (among `snapshots`) to continue from."""
        length = self.length_of(np.asarray(train.labels), inp)
        for step in sorted((int(s) for s in self.config["snapshots"]), reverse=True):
            if step < length:
                k = self.cache_key(train, seed, inp, **{self.length_key: step})
                blob = load_model(model_path("fewshot-baselines", self.trainer or self.name, k), k)
                if blob is not None and "loop" in blob["meta"]:
                    return {"weights": blob["state_dict"], **blob["meta"]}
        return None

    def starting_weights(self) -> str | None:
        """The fingerprint of a registered backbone's (pretrained) weights; None for conv4/resnet12."""
        if self.config["backbone"] in BACKBONES:
            return None
        if not hasattr(self, "_starting_weights"):
            self._starting_weights = registered_backbone(self.config["backbone"], dict(self.config["backbone_args"])).fingerprint()
        return self._starting_weights

    def work_units(self, labels: np.ndarray, inp: Input) -> tuple[int, int, str] | None:
        """(optimiser steps, images trained on, what) of one fold's training: the cost model's units."""
        return None

    def resolved(self, labels: np.ndarray, inp: Input) -> dict[str, Any]:
        """What the config left to the data, as one fold's training resolved it (in `trainings`)."""
        return {}

    def length_of(self, labels: np.ndarray, inp: Input) -> int:
        """The training length (in `length_key` units) one fold trains: the config's, or what the data resolved."""
        return int(self.resolved(labels, inp).get(self.length_key, self.config[self.length_key]))

    def training_work(self, train: DatasetView, seed: int) -> TrainingWork | None:
        if pretrained.finetunes(self):
            return pretrained.training_work(self, train, seed)
        inp = self.resolve_input(train)
        units = self.work_units(np.asarray(train.labels), inp)
        if units is None:
            return None
        steps, images, what = units
        length = self.length_of(np.asarray(train.labels), inp)
        cached = model_path("fewshot-baselines", self.trainer or self.name, self.cache_key(train, seed, inp)).exists()
        return TrainingWork(steps=steps, images=images, what=what, cached=cached,
                            shorten=f"a shorter training (--set {self.length_key}={max(1, length // 5)})")

    def fit(self, train: DatasetView, seed: int) -> None:
        if pretrained.finetunes(self):  # a registered backbone in stages: the one fine-tuning trainer
            pretrained.recipe(self)  # a bad recipe is one line before anything is decoded
            return pretrained.fit(self, train, seed)
        inp = self.resolve_input(train)
        trainer = self.trainer or self.name
        key = self.cache_key(train, seed, inp)
        self.cache_path = model_path("fewshot-baselines", trainer, key)
        labels = np.asarray(train.labels, dtype=np.int64)
        meta = {"size": inp.size, "mode": inp.mode, "invert": inp.invert, "channels": inp.channels,
                "num_classes": train.num_classes, "train_classes": sorted(set(labels.tolist())),
                **self.extra_meta(inp)}
        self.meta, trained = meta, []  # train_net reads self.meta; a load replaces it with the saved one

        def save(step: int, net: nn.Module, extra: dict[str, Any]) -> None:
            k = self.cache_key(train, seed, inp, **{self.length_key: step})
            save_model(model_path("fewshot-baselines", trainer, k), k, net, {**meta, **extra})

        def train_fn(net: nn.Module) -> dict[str, Any]:
            ckpt = Checkpoints(save, {int(s) for s in self.config["snapshots"]}, self.resumable(train, seed, inp))
            with torch_threads(self.config["threads"]):
                net.train()
                self.train_net(net, inp.pixels(train), labels, seed, ckpt)
            trained.append(True)
            return ckpt.final

        # seeded: the same initial weights for a (config, view, seed)
        self.net, self.meta = train_or_load(self.cache_path, key, self.build, train_fn, meta, seed=seed)
        self.placement.module(self.net).eval()  # a cache hit loads on the CPU
        self.trainings.append({"train_seconds": self.meta.get("train_seconds"), "cached": not trained,
                               **self.resolved(labels, inp)})

    @torch.no_grad()
    def embed(self, view: DatasetView) -> Tensor:
        if self.net is None:
            raise FsbenchError(f"method {self.name!r} must be fit on a training view before embed")
        if isinstance(self.net, Finetuned):
            with torch_threads(self.config["threads"]):
                return pretrained.embed(self, view)
        self.net.eval()
        inp = Input(self.meta["size"], self.meta["mode"], self.meta["invert"])
        where = self.placement
        with torch_threads(self.config["threads"]), where.autocast():
            chunks = [self.forward_embed(where.put(b)).float().cpu()
                      for b in inp.batches(view, self.config["embed_batch"])]
        return torch.cat(chunks) if chunks else torch.empty(0, 0)

    def describe(self) -> dict[str, Any]:
        """Adds how long each fold's network trained (when it was loaded: how long it once took)
        and the provenance of outside weights the backbone started from."""
        out = {**super().describe(), "trainings": list(self.trainings)}
        name = self.config["backbone"]
        if name not in BACKBONES:
            nets = [m for m in (self.net.modules() if self.net is not None else ()) if isinstance(m, RegisteredNet)]
            pretrained = nets[0].pretrained if nets else getattr(
                registered_backbone(name, dict(self.config["backbone_args"])), "pretrained", {})
            out["pretrained"] = {"backbone": name, **(pretrained or {})}
        return out


def registered_class(name: str) -> type | None:
    """The class of a registered backbone `name`; None for conv4/resnet12 and unknown names
    (which `build_backbone` rejects with the list of choices)."""
    if name in BACKBONES or name not in registry.names("backbones"):
        return None
    return registry.get("backbones", name)
