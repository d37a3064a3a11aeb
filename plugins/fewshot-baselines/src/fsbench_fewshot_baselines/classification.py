"""Plain supervised training of backbone + classifier head: shared by `finetune` (Chen et al.'s
Baseline / Baseline++) and `supervised-cnn`, which therefore share cached weights.

Heads: `linear` (Baseline: a fully connected layer) or `cosine` (Baseline++: scaled cosine
similarity to learned class weight vectors, which reduces intra-class variation).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from fsbench.errors import FsbenchError
from fsbench.training.finetune import Recipe
from fsbench.training.loop import Plan, fit
from fsbench.training.objectives import CrossEntropy, Objective
from fsbench.training.optim import OptimizerSpec
from fsbench.training.schedule import schedule_from_config

from fsbench_fewshot_baselines.backbones import build_backbone, feature_dim
from fsbench_fewshot_baselines.base import COMMON_CONFIG, COMMON_TRAIN_KEYS, Input, TrainedMethod, as_float
from fsbench_fewshot_baselines.checkpoints import Checkpoints
from fsbench_fewshot_baselines.sampling import random_affine, rotate_classes, rotation_on

HEADS = ("linear", "cosine")

CLASSIFICATION_CONFIG: dict[str, Any] = {
    **COMMON_CONFIG,
    "head": "linear",  # linear (Baseline) | cosine (Baseline++)
    "cosine_scale": 10.0,
    # Chen et al. 2019: Adam 1e-3 at a constant rate, batches of 16 (they train 400 epochs on
    # far larger sets); finetune's --dev curve on Omniglot is flat from 5 epochs (docs/baselines.md)
    "epochs": 10,
    "batch_size": 16,
    "lr": 1e-3,
    "rotate_classes": "auto",  # auto: each 90° rotation of a character is a new class (as for protonet)
    "augment": True,  # small random affine jitter per image (no flips)
}
CLASSIFICATION_TRAIN_KEYS = (
    *COMMON_TRAIN_KEYS, "head", "cosine_scale", "epochs", "batch_size", "lr", "rotate_classes", "augment",
)


class CosineHead(nn.Module):
    """scale · cos(x, w_c) for every class c (Baseline++)."""

    def __init__(self, in_features: int, classes: int, scale: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, in_features) * 0.01)
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).T


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))


def make_head(kind: str, in_features: int, classes: int, scale: float) -> nn.Module:
    if kind == "linear":
        return nn.Linear(in_features, classes)
    if kind == "cosine":
        return CosineHead(in_features, classes, scale)
    raise FsbenchError(f"config 'head' must be one of {HEADS}, not {kind!r}")


class ClassificationMethod(TrainedMethod):
    """Backbone + head trained with cross-entropy over all dataset classes of the training view."""
    #: seconds on the tiny synthetic dataset, for the contract test over every installed method
    test_config: ClassVar[dict[str, Any]] = {
        "backbone": "conv4", "width": 8, "size": 28, "mode": "L", "epochs": 2, "batch_size": 16,
    }

    trainer = "classifier"
    train_keys = CLASSIFICATION_TRAIN_KEYS

    length_key = "epochs"

    def build(self, meta: dict[str, Any]) -> nn.Module:
        backbone = build_backbone(self.config["backbone"], meta["channels"], self.config)
        dim = feature_dim(backbone, meta["channels"], meta["size"])
        classes = meta["num_classes"] * meta.get("label_stride", 1)
        head = make_head(self.config["head"], dim, classes, self.config["cosine_scale"])
        return Classifier(backbone, head)

    def objective(self, recipe: Recipe, dim: int, classes: int) -> Objective:
        """On a pretrained backbone: cross-entropy with label smoothing over the recipe's head."""
        return CrossEntropy(recipe.head, dim, classes, recipe.label_smoothing, recipe.cosine_scale)

    def work_units(self, labels: np.ndarray, inp: Input) -> tuple[int, int, str]:
        """Full batches of `batch_size` over every image (each rotation too, on characters), `epochs` times."""
        n = len(labels) * (4 if rotation_on(self.config, inp.mode) else 1)
        batch, epochs = int(self.config["batch_size"]), int(self.config["epochs"])
        steps = epochs * max(1, n // batch)
        return steps, steps * min(batch, n), f"{epochs} epochs over {n} images"

    def extra_meta(self, inp: Input) -> dict[str, Any]:
        """Rotated copies of class c are classes stride·c + k, so the logit of c is column stride·c."""
        return {"label_stride": 4 if rotation_on(self.config, inp.mode) else 1}

    def train_net(self, net: nn.Module, images: Tensor, labels: np.ndarray, seed: int, ckpt: Checkpoints) -> None:
        cfg = self.config
        if self.meta.get("label_stride", 1) == 4:
            images, labels = rotate_classes(images, labels)
        rng = np.random.default_rng([seed, 2019])
        gen = torch.Generator().manual_seed(seed)
        where = self.placement
        targets = where.put(torch.from_numpy(labels))
        batch = int(cfg["batch_size"])
        per_epoch = max(1, len(labels) // batch)  # drop the ragged last batch (BN needs > 1)

        def batches(epoch: int) -> list[np.ndarray]:
            order = rng.permutation(len(labels))
            return [order[b * batch : (b + 1) * batch] for b in range(per_epoch)]

        def loss_fn(idx: np.ndarray) -> Tensor:
            x = as_float(where.put(images[idx]))  # uint8 to the device
            if cfg["augment"]:
                x = random_affine(x, gen)
            return F.cross_entropy(net(x), targets[idx])

        # Adam at a constant rate, as Chen et al.
        fit(net, Plan(int(cfg["epochs"]), per_epoch, batches), loss_fn,
            optimizer=OptimizerSpec.from_config(cfg, "adam"), schedule=schedule_from_config(cfg, "constant"),
            placement=where, hooks=ckpt.bind(rng, gen), desc=f"{self.name}: training classifier", show_loss=True,
            advice="lower lr or raise batch_size")
