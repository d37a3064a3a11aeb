"""The trained-model cache trusts only what it wrote, for the compute it was trained with (issue 25, case 8)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from fsbench.runtime import torch_threads
from fsbench.training.cache import cache_key, train_or_load


def _linear(seed: int = 0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 2)


def _edit(path, change) -> None:
    """Rewrite the checkpoint with `change(blob)` applied, keeping its key (what an editor or bit rot does)."""
    blob = torch.load(path, weights_only=True)
    change(blob)
    torch.save(blob, path)


def _flip(blob):
    blob["state_dict"] = {k: -v for k, v in blob["state_dict"].items()}


def _one_value(blob):
    blob["state_dict"]["bias"][0] += 1e-3


def _meta(blob):
    blob["meta"]["temperature"] = 99.0


@pytest.mark.parametrize("damage", [_flip, _one_value, _meta], ids=["signs-flipped", "one-value", "meta-edited"])
def test_edited_checkpoint_is_retrained_not_loaded(tmp_path, damage):
    path, key = tmp_path / "m.pt", cache_key("toy", 0)
    trained = []

    def train(model):
        trained.append(1)
        with torch.no_grad():
            model.weight.fill_(0.5)
            model.bias.fill_(-0.25)
        return {"temperature": 2.0}

    first, meta = train_or_load(path, key, lambda meta: _linear(), train)
    _edit(path, damage)
    again, meta2 = train_or_load(path, key, lambda meta: _linear(), train)
    assert len(trained) == 2, "a checkpoint that fails its digest must be retrained"
    assert torch.equal(first.weight, again.weight) and torch.equal(first.bias, again.bias) and meta2 == meta
    third, _ = train_or_load(path, key, lambda meta: _linear(), train)  # the rewritten file is trusted again
    assert len(trained) == 2 and torch.equal(third.weight, first.weight)


def test_cache_key_includes_the_thread_count():
    """Weights trained with 1 and 2 intra-op threads differ (sums in another order): another key each."""
    with torch_threads(1):
        one = cache_key("toy", {"lr": 0.1}, 0)
    with torch_threads(2):
        two = cache_key("toy", {"lr": 0.1}, 0)
    assert one != two
    assert cache_key("toy", threads=1) == one_key("toy", 1) != cache_key("toy", threads=2)


def one_key(part, threads):
    with torch_threads(threads):
        return cache_key(part)


@pytest.mark.parametrize("compute", [{"device": "cuda"}, {"precision": "bfloat16"}])
def test_cache_key_includes_device_and_precision(compute):
    assert cache_key("toy", threads=1) != cache_key("toy", threads=1, **compute)


def test_head_cache_is_keyed_by_the_threads_it_trains_with(tmp_path, monkeypatch):
    """HeadMethod trains its head inside `threads`: the key must be computed there, not outside."""
    from fsbench.heads import method as heads

    seen = []
    monkeypatch.setattr(heads, "train_or_load", lambda path, key, build, train: (seen.append((torch.get_num_threads(), key)), (torch.nn.Linear(2, 2), {}))[1])
    from fsbench.device import CPU

    fake = type("M", (), {"name": "h", "config": SimpleNamespace(threads=1), "config_hash": "c" * 64, "placement": CPU})()
    with torch_threads(2):
        heads.HeadMethod.fit_head(fake, torch.zeros(2, 2), torch.zeros(2), 0, "id")
    assert seen and seen[0][0] == 1 and seen[0][1] == cache_key("h", "id", "c" * 64, 0, threads=1, **CPU.compute())
