"""The baselines on a pretrained backbone: fsbench's one fine-tuning trainer, each with its own loss.

When `backbone` names a registered backbone that exposes its network in stages
(`fsbench.api.Finetunable`: `mediapipe-handnet`, `imagenet-efficientnet-lite0`), `fit` hands the
fold's training view to `fsbench.training.finetune.finetuned` instead of this plugin's own
training: `finetune` and `supervised-cnn` minimise cross-entropy over a cosine or linear head
(label smoothing), `protonet` and `matchingnet` their own episode logits on N-way K-shot
episodes. The config's `recipe` overrides the trainer's settings (`fsbench.training.finetune.Recipe`:
epochs, batch_size, accumulate, lr, head_lr, weight_decay, warmup_epochs, label_smoothing, head,
cosine_scale, stages, views, size, augment) on the defaults of the device the run computes on:
on the CPU the last two stages train on four cached views (`finetune.CPU_RECIPE`), on a GPU the
whole net (the calibrated recipe); `--set 'recipe={"stages": -1, "views": 0}'` asks for the full
recipe anywhere. Each training's resolved recipe is in the results file (`method.trainings`).
Conv-4, ResNet-12 and backbones without stages keep the plugin's own training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from fsbench import configs
from fsbench.api import Finetunable
from fsbench.cost import TrainingWork
from fsbench.data.dataset import DatasetView
from fsbench.training import finetune as trainer  # by module: the leak test spies on trainer.finetuned
from fsbench.training.finetune import Finetuned, Recipe, recipe_from

from fsbench_fewshot_baselines.backbones import BACKBONES, registered_backbone

if TYPE_CHECKING:  # type-only: base imports this module
    from fsbench_fewshot_baselines.base import TrainedMethod


def finetunes(method: "TrainedMethod") -> bool:
    """True when the method's backbone is registered and comes in stages: the shared trainer's case."""
    if method.config["backbone"] in BACKBONES:
        return False
    return isinstance(backbone(method), Finetunable)


def backbone(method: "TrainedMethod") -> Any:
    """The configured registered backbone, built once per method (its starting weights)."""
    if getattr(method, "_registered", None) is None:
        method._registered = registered_backbone(method.config["backbone"], dict(method.config["backbone_args"]))
    return method._registered


def recipe(method: "TrainedMethod") -> Recipe:
    """The method's `recipe` overrides on the defaults of the device it runs on (CPU_RECIPE on a CPU)."""
    return recipe_from(method.config["recipe"], f"method {method.name!r} config 'recipe'", method.placement)


def _identity(method: "TrainedMethod") -> dict[str, Any]:
    """What besides the recipe keys the method's fine-tuned weights (its loss settings)."""
    return {"trainer": method.trainer or method.name, "version": method.version, "backbone": method.config["backbone"],
            "backbone_args": dict(method.config["backbone_args"]), **{k: method.config[k] for k in method.train_keys}}


def training_work(method: "TrainedMethod", train: DatasetView, seed: int) -> TrainingWork:
    """One fold's fine-tuning in the cost model's units, and whether its weights are cached."""
    plan = recipe(method)
    path, _ = trainer.weights_file(backbone(method).fingerprint(), plan, lambda d, c: method.objective(plan, d, c),
                                   train, seed, _identity(method), "fewshot-baselines", method.placement,
                                   method.config["threads"])
    return trainer.training_work(plan, len(train.labels), method.config["backbone"], path.exists())


def fit(method: "TrainedMethod", train: DatasetView, seed: int) -> None:
    """Fine-tune (or load) the backbone on `train` with the method's objective; sets net and meta."""
    name, args = method.config["backbone"], dict(method.config["backbone_args"])
    plan = recipe(method)
    method.net, meta = trainer.finetuned(
        lambda: registered_backbone(name, args), backbone(method).fingerprint(), plan,
        lambda dim, classes: method.objective(plan, dim, classes), train, seed, _identity(method),
        kind="fewshot-baselines", placement=method.placement, threads=method.config["threads"])
    labels = sorted(set(np.asarray(train.labels).tolist()))
    method.meta = {"finetuned": True, "num_classes": train.num_classes, "train_classes": labels, "label_stride": 1,
                   "train_seconds": meta.get("train_seconds")}
    method.trainings.append({"train_seconds": meta.get("train_seconds"), "cached": meta["cached"],
                             "recipe": configs.as_dict(plan)})


def embed(method: "TrainedMethod", view: DatasetView) -> Tensor:
    """The fine-tuned network's pooled features of `view`, as the method turns them into embeddings."""
    assert isinstance(method.net, Finetuned)
    return method.finetuned_embedding(method.net.embed(view, method.placement))
