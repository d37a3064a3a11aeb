"""One fine-tuning trainer for every registered backbone that exposes its network in stages.

    net = finetuned(backbone_factory, starting, recipe, objective_factory, train_view, seed, key)

trains (or loads, through the one trained-model cache) a pretrained network on a fold's training
view: the last `recipe.stages` stages of `fsbench.api.Finetunable.stages()` train (−1: all, 0:
none — the head alone), the ones before stay frozen in eval mode; an `Objective` (objectives.py:
cross-entropy with label smoothing over a cosine or linear head, a method's episodic loss, or a
method's own) gives the loss; AdamW (backbone `lr`, the objective's parameters `head_lr`, weight
decay on both) under linear warm-up then one cosine, gradients accumulated over `accumulate`
micro-batches — all in the one loop (`fsbench.training.loop.fit`); augmentation on tensors
(`augment.Augment`, flips where the card allows).

The CPU path: with `views = K > 0` and a frozen trunk, each image is augmented K times with fixed
seeded parameters and run through the trunk once per view before training; every epoch then
trains only the top stages on a random one of those K cached activations per image (fp16), so an
epoch costs the top stages' forward and backward alone (docs/baselines.md, bench/finetune_cpu.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fsbench import configs
from fsbench.api import Finetunable
from fsbench.configs.sections import FinetuneRecipe
from fsbench.cost import TrainingWork
from fsbench.data.dataset import DatasetView
from fsbench.device import CPU, Placement
from fsbench.errors import FsbenchError
from fsbench.progress import progress_bar
from fsbench.runtime import torch_threads
from fsbench.training.augment import Augment
from fsbench.training.cache import cache_key, model_path, train_or_load
from fsbench.training.loop import Plan, fit
from fsbench.training.objectives import Objective
from fsbench.training.optim import OptimizerSpec
from fsbench.training.schedule import WarmupCosine

VERSION = 1
#: images per forward pass when embedding or caching trunk activations
CHUNK = 64


#: the trainer's settings: a typed config section (methods embed it, or take overrides of it)
Recipe = FinetuneRecipe


#: where a run computes on the CPU, the recipe's defaults differ in these fields: the last two
#: stages train on K = 4 cached views — on Massey `--dev` the best CPU variant measured at S=0 and
#: S=4 (0.6 points under the best at S=1), at a tenth of the full recipe's cost (docs/baselines.md,
#: `bench/finetune_cpu.py`)
CPU_RECIPE: dict[str, Any] = {"stages": 2, "views": 4}


def recipe_from(values: Mapping[str, Any] | FinetuneRecipe, where: str = "recipe",
                placement: Placement | None = None) -> FinetuneRecipe:
    """A recipe from overrides of its defaults; a wrong key or value is one line naming `where`.

    On a CPU `placement` the defaults are `CPU_RECIPE` over FinetuneRecipe's (the full recipe,
    calibrated on a GPU, is hours per fold on two cores); given values override either.
    """
    if placement is not None and placement.type == "cpu" and isinstance(values, Mapping):
        values = {**CPU_RECIPE, **values}
    return configs.build(FinetuneRecipe, values, where)


class StagedNet(nn.Module):
    """A `Finetunable` backbone's stages as one network: `trunk` (frozen, no gradient) then `top`."""

    def __init__(self, backbone: Finetunable, trainable: int, size: int) -> None:
        super().__init__()
        if not isinstance(backbone, Finetunable):
            raise FsbenchError(f"backbone {type(backbone).__name__} has no stages() and prepare(); it cannot be "
                               "fine-tuned (fsbench.api.Finetunable)")
        self.stages = nn.ModuleList(backbone.stages())
        n = len(self.stages)
        self.cut = 0 if trainable < 0 else n - min(int(trainable), n)
        self.size, self._prepare = int(size), backbone.prepare
        for p in self.stages[: self.cut].parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "StagedNet":
        super().train(mode)
        for stage in self.stages[: self.cut]:  # frozen stages keep their running statistics
            stage.eval()
        return self

    def trunk(self, images: Tensor) -> Tensor:
        """[0, 1] images → the activation entering the first trainable stage (no gradient)."""
        with torch.no_grad():
            h = self._prepare(images, self.size)
            for stage in self.stages[: self.cut]:
                h = stage(h)
        return h

    def top(self, h: Tensor) -> Tensor:
        for stage in self.stages[self.cut :]:
            h = stage(h)
        return h.flatten(1)

    def forward(self, images: Tensor) -> Tensor:
        return self.top(self.trunk(images))


class Finetuned(nn.Module):
    """What the cache holds: the staged network and the objective (its head) trained with it."""

    def __init__(self, net: StagedNet, objective: Objective) -> None:
        super().__init__()
        self.net, self.objective = net, objective

    @torch.no_grad()
    def embed(self, view: DatasetView, placement: Placement = CPU) -> Tensor:
        """Pooled features of every image of `view` (decoded at its stored size), in view order."""
        self.eval()
        size = view.dataset.card.image_size if view.dataset.card is not None else self.net.size
        with placement.autocast():
            chunks = [self.net(placement.put(x)).float().cpu() for x in view.tensors(size, "RGB", CHUNK)]
        return torch.cat(chunks) if chunks else torch.empty(0, 0)


def finetuned(make_backbone: Callable[[], Finetunable], starting: str, recipe: Recipe,
              make_objective: Callable[[int, int], Objective], train: DatasetView, seed: int,
              identity: Any, kind: str = "finetune", placement: Placement = CPU,
              threads: int = 0) -> tuple[Finetuned, dict[str, Any]]:
    """(trained network on `placement`, meta): trained on `train` or loaded from the cache.

    `starting` names the starting weights (the backbone's fingerprint); `make_objective(dim,
    classes)` builds a fresh objective; `identity` is what else keys the weights (the method's
    loss settings); `threads` the torch threads training runs with (0: as they are). Saved meta:
    train_seconds; returned also whether this call trained.
    """
    labels = np.unique(train.labels, return_inverse=True)[1].astype(np.int64)
    classes = int(labels.max()) + 1 if len(labels) else 0
    path, key = weights_file(starting, recipe, make_objective, train, seed, identity, kind, placement, threads)
    trained: list[bool] = []

    def build(meta: dict[str, Any]) -> Finetuned:
        backbone = make_backbone()
        dim = int(getattr(backbone, "feature_dim"))
        return Finetuned(StagedNet(backbone, recipe.stages, recipe.size), make_objective(dim, meta["classes"]))

    def train_fn(model: Finetuned) -> dict[str, Any]:
        start = time.perf_counter()
        size = train.dataset.card.image_size if train.dataset.card is not None else recipe.size
        images = torch.from_numpy(np.ascontiguousarray(train.images(size, "RGB"))).permute(0, 3, 1, 2)
        augment = Augment.for_card(train.dataset.card) if recipe.augment else Augment.off()
        with torch_threads(threads):
            run(model, images, labels, recipe, augment, seed, placement)
        trained.append(True)
        return {"train_seconds": round(time.perf_counter() - start, 2)}

    model, meta = train_or_load(path, key, build, train_fn, {"classes": classes}, seed=seed)
    return placement.module(model).eval(), {**meta, "cached": not trained}


def weights_file(starting: str, recipe: Recipe, make_objective: Callable[[int, int], Objective],
                 train: DatasetView, seed: int, identity: Any, kind: str = "finetune", placement: Placement = CPU,
                 threads: int = 0) -> tuple[Path, str]:
    """(path, key) of the weights `finetuned` trains or loads for these arguments: the plan line
    asks it whether a fold's training is cached before the run starts."""
    classes = len(np.unique(train.labels))
    probe = make_objective(1, max(classes, 1))
    key = cache_key("finetune", VERSION, kind, starting, configs.as_dict(recipe), probe.identity(), identity,
                    Augment.for_card(train.dataset.card) if recipe.augment else None, train.fingerprint, int(seed),
                    threads=threads, **placement.compute())
    return model_path(kind, "finetune", key), key


def training_work(recipe: Recipe, images: int, backbone: str, cached: bool) -> TrainingWork:
    """The cost model's units of one fold's fine-tuning on `images` images: `epochs` passes
    through the trained stages, and with cached views each image run K times (once without
    augmentation) through the frozen trunk first. The price is per backbone and stage/view shape
    (`<method>/<backbone>:stages<S>-views<K>` in fsbench/cost_model.json)."""
    k = (recipe.views if recipe.augment else 1) if recipe.views > 0 and recipe.stages >= 0 else 0
    steps = recipe.epochs * max(1, -(-images // recipe.batch_size) // recipe.accumulate)
    stages = "every stage" if recipe.stages < 0 else f"last {recipe.stages} stages"
    return TrainingWork(steps=steps, images=recipe.epochs * images, trunk=k * images,
                        variant=f"{backbone}:stages{recipe.stages}-views{recipe.views}", cached=cached,
                        what=f"{recipe.epochs} epochs of the {stages}" + (f" on {k} cached views" if k else ""),
                        shorten=f"a shorter training (--set 'recipe={{\"epochs\": {max(1, recipe.epochs // 3)}}}')")


def run(model: Finetuned, images: Tensor, labels: np.ndarray, recipe: Recipe, augment: Augment, seed: int,
        placement: Placement = CPU) -> None:
    """Train `model` in place on uint8 (N, C, H, W) `images` with labels 0..C−1 (kept on the CPU;
    each batch, or its cached trunk activations, goes to `placement`)."""
    model = placement.module(model)
    net, objective = model.net, model.objective
    rng = np.random.default_rng([seed, 22])
    gen = torch.Generator().manual_seed(seed)
    y = torch.from_numpy(labels)
    cached = recipe.views > 0 and net.cut > 0
    views = _trunk_views(net, images, augment, recipe.views, gen, placement) if cached else None

    def loss(idx: np.ndarray) -> Tensor:
        rows = torch.from_numpy(idx)
        if views is not None:  # a random one of each image's K cached views
            pick = torch.randint(len(views), (len(idx),), generator=gen)
            h = placement.put(views[pick, rows]).float()
        else:
            h = net.trunk(placement.put(augment(images[rows].float().div_(255), gen)))
        return objective.loss(net.top(h), placement.put(y[rows]))

    micro = lambda: objective.batches(labels, recipe.batch_size, rng)  # noqa: E731 - one epoch's micro-batches
    steps = max(1, len(objective.batches(labels, recipe.batch_size, np.random.default_rng(0))) // recipe.accumulate)
    fit(model, Plan(recipe.epochs, steps, lambda epoch: micro()[: steps * recipe.accumulate]), loss,
        optimizer=OptimizerSpec("adamw", weight_decay=recipe.weight_decay,
                                lr_scale={"objective.": recipe.head_lr / recipe.lr}),
        schedule=WarmupCosine(recipe.epochs, recipe.warmup_epochs, recipe.lr),
        placement=placement, accumulate=recipe.accumulate, after_step=objective.after_step, desc="fine-tuning",
        advice="lower recipe.lr")


def _trunk_views(net: StagedNet, images: Tensor, augment: Augment, k: int, gen: torch.Generator,
                 placement: Placement) -> Tensor:
    """(K, N, …) fp16 trunk activations of K augmented copies of every image (the first copy plain
    when augmentation is off: then every view is the same and one is computed)."""
    k = k if augment.active else 1
    out = None
    net.eval()
    with progress_bar() as bar:
        task = bar.add_task("caching trunk activations", total=k * len(images), unit="images")
        for v in range(k):
            for start in range(0, len(images), CHUNK):
                x = augment(images[start : start + CHUNK].float().div_(255), gen)
                with placement.autocast():
                    h = net.trunk(placement.put(x)).to(torch.float16).cpu()
                if out is None:
                    out = torch.empty((k, len(images), *h.shape[1:]), dtype=torch.float16)
                out[v, start : start + len(h)] = h
                bar.advance(task, len(h))
    assert out is not None
    return out
