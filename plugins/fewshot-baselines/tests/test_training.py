"""The training machinery's promises: the card decides the input convention, learning curves
resume to the same weights as an uninterrupted run, and registered (pretrained) backbones
fine-tune by config with their weights' provenance on record."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fsbench import registry
from fsbench.training.finetune import Finetuned, StagedNet
from fsbench.data.prepare.omniglot import CARD as OMNIGLOT_CARD
from fsbench.errors import FsbenchError
from fsbench.protocol.splits import LeaveSignerOut
from fsbench_fewshot_baselines import backbones

from fewshot_tiny import TINY, TINY_CLS


@pytest.fixture
def carded(tiny):
    """The tiny dataset with the Omniglot card's input conventions (dark strokes on white)."""
    return dataclasses.replace(tiny, card=OMNIGLOT_CARD)


def _views(data, fold: int = 0):
    f = LeaveSignerOut().folds(data, 0)[fold]
    return data.view(f.train), data.view(f.test)


def test_dark_foreground_cards_invert_the_input_so_strokes_are_high(tiny, carded):
    method = registry.get("methods", "protonet")(TINY)
    plain, inverted = method.resolve_input(tiny.view()), method.resolve_input(carded.view())
    assert not plain.invert and inverted.invert
    raw, flipped = plain.pixels(tiny.view()), inverted.pixels(carded.view())
    assert torch.equal(flipped, 255 - raw)
    assert raw.float().mean() > 200 > 55 > flipped.float().mean()  # white paper → 0, strokes → 255
    batch = next(inverted.batches(carded.view(), 16))
    assert torch.allclose(batch, flipped[:16].float() / 255)  # embedding sees what training saw
    assert not registry.get("methods", "protonet")({**TINY, "invert": False}).resolve_input(carded.view()).invert


def test_inversion_is_part_of_the_trained_model(tiny, carded):
    train, _ = _views(tiny)
    a, b = registry.get("methods", "protonet")(TINY), registry.get("methods", "protonet")(TINY)
    a.fit(train, 0)
    b.fit(_views(carded)[0], 0)
    assert a.cache_path != b.cache_path and b.meta["invert"] and not a.meta["invert"]


@pytest.mark.parametrize(("name", "cfg", "length"), [("protonet", TINY, "episodes"), ("finetune", TINY_CLS, "epochs")])
def test_a_resumed_curve_gives_the_weights_of_an_uninterrupted_run(tiny, tmp_path, monkeypatch, name, cfg, length):
    train, test = _views(tiny)
    straight = registry.get("methods", name)({**cfg, length: 4})
    straight.fit(train, 0)
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "curve"))
    points = [1, 2, 4]
    short = registry.get("methods", name)({**cfg, length: 2, "snapshots": points})
    short.fit(train, 0)  # saves the state after 1 step too
    long = registry.get("methods", name)({**cfg, length: 4, "snapshots": points})
    long.fit(train, 0)  # resumes from step 2
    assert torch.equal(long.embed(test), straight.embed(test))
    one = registry.get("methods", name)({**cfg, length: 1})
    one.fit(train, 0)  # the snapshot is the 1-step run's own cache entry
    assert one.trainings == [{"train_seconds": one.meta["train_seconds"], "cached": True,
                              **({"episodes": 1} if length == "episodes" else {})}]
    assert long.trainings[0]["train_seconds"] >= short.trainings[0]["train_seconds"]


def test_the_episodic_length_follows_the_class_count_and_keeps_the_boards_hashes(tiny):
    train, _ = _views(tiny)
    labels = np.asarray(train.labels)
    protonet = registry.get("methods", "protonet")
    flat = protonet({**TINY, "episodes": 1000, "episodes_per_class": 1, "rotate_classes": False})
    assert flat.length(labels, "L") == (8, 4)  # 8 characters, one episode each; 4-way as configured
    assert protonet({**TINY, "episodes": 1000, "episodes_per_class": 1}).length(labels, "L")[0] == 32  # rotations
    assert protonet({**TINY, "episodes": 1000, "episodes_per_class": 0}).length(labels, "L")[0] == 1000  # off
    assert protonet({**TINY, "episodes": 5, "episodes_per_class": 1}).length(labels, "L")[0] == 5  # `episodes` caps
    flat.fit(train, 0)
    assert flat.trainings[0]["episodes"] == 8 and not flat.trainings[0]["cached"]
    # the cap is a late key: at its default the config hashes as before (the boards' protonet rows)
    assert protonet({}).config_hash.startswith("3a6a7dc3")
    assert protonet({"episodes_per_class": 31}).config_hash != protonet({}).config_hash
    with pytest.raises(FsbenchError, match="episodes_per_class"):
        protonet({"episodes_per_class": -1})


def test_training_config_is_checked_before_anything_runs():
    with pytest.raises(FsbenchError, match="invert"):
        registry.get("methods", "protonet")({"invert": "yes"})
    with pytest.raises(FsbenchError, match="train_ways"):
        registry.get("methods", "protonet")({"train_ways": 1})


def test_unknown_and_untrainable_backbones_are_one_line_errors(tiny, monkeypatch):
    with pytest.raises(FsbenchError, match="fsbench list backbones"):
        registry.get("methods", "finetune")({**TINY_CLS, "backbone": "vgg"}).fit(tiny.view(), 0)

    class Frozen:
        channels = 3

    monkeypatch.setattr(backbones.registry, "names", lambda kind: ["frozen-thing"])
    monkeypatch.setattr(backbones.registry, "get", lambda kind, name: Frozen)
    with pytest.raises(FsbenchError, match="no trainable `.module`"):
        backbones.build_backbone("frozen-thing", 3, {})


EFFNET = "imagenet-efficientnet-lite0"


@pytest.fixture
def effnet():
    if EFFNET not in registry.names("backbones"):
        pytest.skip(f"{EFFNET} is not installed (plugins/pretrained)")
    return {"backbone": EFFNET, "backbone_args": {"input_size": 32}, "size": 28}


@pytest.mark.parametrize(("name", "cfg"), [
    ("protonet", {**TINY, "episodes": 2}),
    ("finetune", {**TINY_CLS, "epochs": 1, "finetune_steps": 5, "batch_size": 32}),
])
def test_an_imagenet_backbone_fine_tunes_by_config_and_names_its_weights(tiny, effnet, name, cfg):
    """A registered backbone in stages trains through fsbench's one fine-tuning trainer (pretrained.py)."""
    train, test = _views(tiny)
    recipe = {"epochs": 1, "batch_size": 8, "size": 32}
    method = registry.get("methods", name)({**cfg, **effnet, "mode": "auto", "recipe": recipe})
    start = StagedNet(registry.get("backbones", EFFNET)(input_size=32), -1, 32).state_dict()
    method.fit(train, 0)
    assert isinstance(method.net, Finetuned)
    tuned = method.net.net.state_dict()
    assert tuned.keys() == start.keys()
    assert [k for k, v in tuned.items() if v.dtype.is_floating_point and not torch.equal(v, start[k])]  # not frozen
    emb = method.embed(test)
    assert emb.shape == (len(test), 1280) and torch.isfinite(emb).all()
    described = method.describe()["pretrained"]
    assert described["backbone"] == EFFNET and described["trained_on"] == "ImageNet-1k"
    assert len(described["sha256"]) == 64
    again = registry.get("methods", name)({**cfg, **effnet, "mode": "auto", "recipe": recipe})
    again.fit(train, 0)
    assert again.trainings[0]["cached"] and torch.equal(again.embed(test), emb)
    assert np.isfinite(emb.numpy()).all()
