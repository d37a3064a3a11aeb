"""What every baseline here shares: input resolution, cached training, batched embedding.

A subclass says which config keys change its trained weights (`train_keys`), how to build its
network from saved metadata (`build`) and how to train it (`train_net`). `fit` then looks the
weights up by (trainer, training config, train-view fingerprint, seed) under
`fsbench.paths.cache_dir("fewshot-baselines")` and trains only on a miss.
"""

from __future__ import annotations

import io
import os
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from fsbench.api import Method, config_hash
from fsbench.data.dataset import DatasetView, Mode
from fsbench.errors import FsbenchError
from fsbench.paths import cache_dir
from fsbench.runtime import torch_threads

GRAYSCALE_PIL_MODES = {"1", "L", "LA", "I", "I;16", "F", "P"}

#: config keys every trained baseline has
COMMON_CONFIG: dict[str, Any] = {
    "backbone": "conv4",  # conv4 | resnet12
    "width": 64,  # conv4 channels
    "resnet_widths": [32, 64, 128, 256],
    "size": "auto",  # input side; auto: 28 for grayscale (character) data, 32 for RGB
    "mode": "auto",  # RGB | L | auto (from the raw images)
    "embed_batch": 256,
    "threads": 0,  # torch threads for training/embedding; 0 keeps torch's setting (1 is faster on a loaded machine)
}
COMMON_TRAIN_KEYS = ("backbone", "width", "resnet_widths")


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


def uint8_tensor(view: DatasetView, size: int, mode: Mode) -> Tensor:
    """The whole view as uint8 (N, C, H, W): small enough in memory, converted per batch."""
    return torch.from_numpy(np.ascontiguousarray(view.images(size, mode))).permute(0, 3, 1, 2).contiguous()


def as_float(x: Tensor) -> Tensor:
    return x.float().div_(255)


class TrainedMethod(Method):
    """A `Method` whose `fit` trains (or loads) one network per (fold training view, seed)."""

    #: config keys that change the trained weights (besides the resolved size/mode)
    train_keys: ClassVar[tuple[str, ...]] = COMMON_TRAIN_KEYS
    #: methods with the same trainer and training config share cached weights
    trainer: ClassVar[str] = ""

    net: nn.Module | None = None

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.net = None
        self.meta: dict[str, Any] = {}

    # -- subclass hooks -------------------------------------------------------------------
    def build(self, meta: dict[str, Any]) -> nn.Module:
        """A fresh network for saved metadata (channels, classes, …)."""
        raise NotImplementedError

    def train_net(self, net: nn.Module, images: Tensor, labels: np.ndarray, seed: int) -> None:
        """Train `net` in place on uint8 images (N, C, H, W) and dataset labels."""
        raise NotImplementedError

    def forward_embed(self, x: Tensor) -> Tensor:
        """Embeddings of a float batch; default: the whole network."""
        assert self.net is not None
        return self.net(x)

    def extra_meta(self, train: DatasetView, labels: np.ndarray) -> dict[str, Any]:
        return {}

    # -- shared machinery -----------------------------------------------------------------
    def resolve_input(self, view: DatasetView) -> tuple[int, Mode]:
        mode = self.config["mode"]
        if mode == "auto":
            mode = detect_mode(view)
        if mode not in ("RGB", "L"):
            raise FsbenchError(f"config 'mode' must be RGB, L or auto, not {mode!r}")
        size = self.config["size"]
        if size == "auto":
            size = 28 if mode == "L" else 32
        if not isinstance(size, int) or size < 16:
            raise FsbenchError(f"config 'size' must be 'auto' or an int ≥ 16, not {size!r}")
        return size, mode

    def cache_key(self, train: DatasetView, seed: int, size: int, mode: str) -> str:
        return config_hash({
            "trainer": self.trainer or self.name,
            "version": self.version,
            **{k: self.config[k] for k in self.train_keys},
            "size": size,
            "mode": mode,
            "train_view": train.fingerprint,
            "seed": int(seed),
        })

    def fit(self, train: DatasetView, seed: int) -> None:
        size, mode = self.resolve_input(train)
        key = self.cache_key(train, seed, size, mode)
        path = cache_dir("fewshot-baselines") / f"{self.trainer or self.name}-{key[:32]}.pt"
        if path.exists():
            blob = torch.load(path, weights_only=True)
            self.meta = blob["meta"]
            self.net = self.build(self.meta)
            self.net.load_state_dict(blob["state"])
        else:
            labels = np.asarray(train.labels, dtype=np.int64)
            self.meta = {
                "size": size, "mode": mode, "channels": 1 if mode == "L" else 3,
                "num_classes": train.num_classes,
                "train_classes": sorted(set(labels.tolist())),
                **self.extra_meta(train, labels),
            }
            images = uint8_tensor(train, size, mode)
            with torch.random.fork_rng(devices=[]), torch_threads(self.config["threads"]):
                torch.manual_seed(seed)
                self.net = self.build(self.meta)
                self.net.train()
                self.train_net(self.net, images, labels, seed)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"meta": self.meta, "state": self.net.state_dict()}, tmp)
            os.replace(tmp, path)
        self.net.eval()
        self.cache_path = path

    @torch.no_grad()
    def embed(self, view: DatasetView) -> Tensor:
        if self.net is None:
            raise FsbenchError(f"method {self.name!r} must be fit on a training view before embed")
        self.net.eval()
        size, mode = self.meta["size"], self.meta["mode"]
        with torch_threads(self.config["threads"]):
            chunks = [self.forward_embed(b) for b in view.tensors(size, mode, self.config["embed_batch"])]
        return torch.cat(chunks) if chunks else torch.empty(0, 0)
