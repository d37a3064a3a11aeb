"""The one SGD loop (fsbench.training.loop) and the trained-model cache (fsbench.training.cache)."""

from __future__ import annotations

import pytest
import torch

from fsbench.errors import FsbenchError
from fsbench.training.cache import cache_key, train_or_load
from fsbench.training.loop import sgd_loop


def test_training_loop_refuses_to_return_a_diverged_network():
    """A NaN loss (e.g. the thesis's lr 0.1 on a small CPU batch) is an error, never a cached net."""
    model = torch.nn.Linear(2, 2)
    cfg = {"epochs": 1, "warmup_epochs": 0, "batch_size": 2}
    with pytest.raises(FsbenchError, match="diverged"):
        sgd_loop(model, 40, cfg, 0, lambda idx, gen: model.weight.sum() * float("nan"), "toy net")
    # a rare bad step (one in twenty) is skipped: the run goes on and the weights stay finite
    calls = iter(range(100))
    sgd_loop(model, 40, cfg, 0, lambda idx, gen: model.weight.sum() * (float("nan") if next(calls) == 3 else 1.0), "toy")
    assert torch.isfinite(model.weight).all()


def test_alpha_and_beta_get_no_weight_decay():
    """Decay would pull α to the σ(β + α²·cos) saddle: only the other weights shrink."""
    model = torch.nn.Module()
    model.alpha, model.w = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    cfg = {"epochs": 2, "warmup_epochs": 0, "batch_size": 4, "weight_decay": 0.5, "lr_max": 0.1}
    sgd_loop(model, 8, cfg, 0, lambda idx, gen: 0.0 * (model.alpha + model.w).sum(), "toy")
    assert model.alpha.item() == 1.0 and model.w.item() < 1.0


def test_train_or_load_trains_once_and_retrains_a_broken_file(tmp_path):
    calls = []

    def train(model):
        calls.append(1)
        torch.nn.init.constant_(model.weight, 3.0)
        return {"score": 0.5}

    path, key = tmp_path / "m.pt", cache_key("toy", {"lr": 0.1}, 0)
    build = lambda meta: torch.nn.Linear(2, 2)  # noqa: E731
    model, meta = train_or_load(path, key, build, train, {"size": 2})
    again, meta2 = train_or_load(path, key, build, train)
    assert len(calls) == 1 and meta == meta2 == {"size": 2, "score": 0.5}
    assert torch.equal(model.weight, again.weight)
    train_or_load(path, cache_key("toy", {"lr": 0.2}, 0), build, train)  # another key: trains
    path.write_bytes(b"truncated")
    train_or_load(path, key, build, train)
    assert len(calls) == 3 and not list(tmp_path.glob("*.tmp"))
