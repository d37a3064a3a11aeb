"""The one fine-tuning trainer on a tiny staged backbone: it learns, it is cached, what is frozen stays
frozen, and its cached-trunk path trains the top stages alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fsbench.api import Finetunable
from fsbench.errors import FsbenchError
from fsbench.testing import tiny_staged
from fsbench.training.augment import Augment
from fsbench.training.finetune import Finetuned, Recipe, StagedNet, finetuned, recipe_from, run
from fsbench.training.objectives import CrossEntropy, Episodic

SMALL = {"epochs": 25, "batch_size": 8, "lr": 3e-3, "head_lr": 3e-2, "warmup_epochs": 0.5, "size": 24}


def _data(tiny):
    view = tiny.view(np.flatnonzero(tiny.signers != "s1"))
    images = torch.from_numpy(view.images(24, "RGB")).permute(0, 3, 1, 2).contiguous()
    return view, images, np.unique(view.labels, return_inverse=True)[1].astype(np.int64)


def _loss(model: Finetuned, images, labels) -> float:
    model.eval()
    with torch.no_grad():
        return float(model.objective.loss(model.net(images.float() / 255), torch.from_numpy(labels)))


def _model(recipe: Recipe) -> Finetuned:
    return Finetuned(StagedNet(tiny_staged(), recipe.stages, recipe.size), CrossEntropy(recipe.head, 64, 4))


#: colour jitter only: the tiny classes are bars at positions a shift would blur
COLOUR = Augment(rotation=0.0, shift=0.0, scale=(1.0, 1.0))


@pytest.mark.parametrize("settings, factor", [
    ({}, 0.8), ({"stages": 2, "views": 3}, 0.8), ({"accumulate": 2, "augment": False, "head": "linear"}, 0.8),
    ({"stages": 0, "views": 2, "head": "linear", "head_lr": 0.1}, 0.97),  # a probe on fixed random features
])
def test_the_loss_falls(tiny, settings, factor):
    _, images, labels = _data(tiny)
    recipe = recipe_from({**SMALL, **settings})
    torch.manual_seed(0)
    model = _model(recipe)
    trunk_before = [p.clone() for s in model.net.stages[: model.net.cut] for p in s.parameters()]
    before = _loss(model, images, labels)
    run(model, images, labels, recipe, COLOUR if recipe.augment else Augment.off(), seed=0)
    assert _loss(model, images, labels) < factor * before
    after = [p for s in model.net.stages[: model.net.cut] for p in s.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(trunk_before, after))  # frozen stages never move
    assert all(not s.training for s in model.net.stages)


def test_episodic_objective_learns(tiny):
    _, images, labels = _data(tiny)
    recipe = recipe_from({**SMALL, "epochs": 40})

    def logits(support, support_labels, query, ways):
        protos = torch.zeros(ways, support.shape[1]).index_add(0, support_labels, support) / 2
        return -torch.cdist(query, protos).pow(2)

    torch.manual_seed(0)
    model = Finetuned(StagedNet(tiny_staged(), -1, 24), Episodic(logits, 4, 2, 2, "test"))
    probe = Finetuned(StagedNet(tiny_staged(), -1, 24), CrossEntropy("cosine", 64, 4))
    eps = model.objective.batches(labels, 0, np.random.default_rng(0))
    assert eps and all(len(e) == 4 * 4 for e in eps)
    with torch.no_grad():
        first = float(model.objective.loss(model.net(images[torch.from_numpy(eps[0])].float() / 255),
                                           torch.from_numpy(labels[eps[0]])))
    run(model, images, labels, recipe, Augment.off(), seed=0)
    with torch.no_grad():
        last = float(model.objective.loss(model.net(images[torch.from_numpy(eps[0])].float() / 255),
                                          torch.from_numpy(labels[eps[0]])))
    assert last < 0.8 * first and isinstance(probe.net, StagedNet)


def test_cached_by_content_and_seeded(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path))
    view, _, _ = _data(tiny)
    recipe = recipe_from(SMALL)

    def go(recipe, seed=0):
        return finetuned(tiny_staged, "tiny-1", recipe, lambda dim, c: CrossEntropy("cosine", dim, c), view, seed,
                         identity={"test": 1}, kind="test-finetune")

    first, meta = go(recipe)
    again, meta2 = go(recipe)
    assert not meta["cached"] and meta2["cached"] and meta2["train_seconds"] == meta["train_seconds"]
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    emb = again.embed(view)
    assert emb.shape == (len(view), 64) and torch.isfinite(emb).all()
    assert not go(recipe_from({**SMALL, "epochs": 2}))[1]["cached"]  # another recipe: trained anew
    assert not go(recipe, seed=1)[1]["cached"]


def test_bad_recipes_and_backbones_are_one_line():
    with pytest.raises(FsbenchError, match="no config key .epoch.; nearest: .epochs."):
        recipe_from({"epoch": 3})
    with pytest.raises(FsbenchError, match="expects an integer"):
        recipe_from({"epochs": "3"})
    with pytest.raises(FsbenchError, match="size"):
        recipe_from({"size": 8})
    with pytest.raises(FsbenchError, match="cannot be fine-tuned"):
        StagedNet(object(), -1, 24)
    assert isinstance(tiny_staged(), Finetunable)


def test_the_cpu_default_is_the_cheap_recipe_and_a_gpu_gets_the_full_one():
    from fsbench.device import CPU, Placement
    from fsbench.training.finetune import CPU_RECIPE

    cpu, gpu = recipe_from({}, placement=CPU), recipe_from({}, placement=Placement(device="cuda:0"))
    assert (cpu.stages, cpu.views) == (CPU_RECIPE["stages"], CPU_RECIPE["views"]) == (2, 4)
    assert (gpu.stages, gpu.views) == (-1, 0) and gpu == recipe_from({})  # no placement: the calibrated defaults
    assert cpu.epochs == gpu.epochs and cpu.size == gpu.size  # only the CPU_RECIPE fields differ
    assert recipe_from({"stages": -1, "views": 0}, placement=CPU) == gpu  # the full recipe on a CPU, asked for
    assert recipe_from({"epochs": 3}, placement=CPU).stages == 2  # an override keeps the device's other defaults
