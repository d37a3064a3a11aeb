"""The shared frozen-feature cache (fsbench.features) and the frozen-prototypes method."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from fsbench import registry
from fsbench.api import PoseBackbone
from fsbench.data.dataset import FsDataset
from fsbench.errors import FsbenchError
from fsbench.features import backbone_features
from fsbench.paths import cache_dir
from fsbench.testing import real_omniglot
from fsbench_pretrained.frozen import FrozenPrototypes


class CountingBackbone(PoseBackbone):
    """Per-channel mean and spread as 2-d features; counts the images it is asked to encode."""

    input_size = (16, 16)
    channels = 1
    feature_dim = 2

    def __init__(self) -> None:
        self.seen = 0

    def features(self, images: Tensor) -> Tensor:
        self.seen += len(images)
        return torch.stack([images.mean(dim=(1, 2, 3)), images.std(dim=(1, 2, 3))], dim=1)

    def fingerprint(self) -> str:
        return "counting-backbone-1"


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FSBENCH_QUIET", "1")


@pytest.fixture(scope="module")
def omniglot() -> FsDataset:
    """5 real Balinese characters × 8 drawers (the Omniglot zip inside fsbench), drawers in
    pairs as 4 "signers": 40 images, small enough for a 224-px ImageNet net on 2 cores."""
    return real_omniglot("Balinese", n_chars=5, drawers=8, per_signer=2)


def test_features_come_in_view_order_and_a_second_call_loads_them(omniglot):
    backbone = CountingBackbone()
    view = omniglot.view(torch.arange(len(omniglot) - 1, -1, -1).numpy())  # reversed order
    first = backbone_features(backbone, view, batch_size=7)
    assert first.shape == (len(omniglot), 2) and first.dtype == torch.float32
    assert backbone.seen == len(omniglot)
    direct = backbone.features(view.tensor(16, "L"))
    assert torch.allclose(first, direct, atol=1e-6)
    backbone.seen = 0
    assert torch.equal(backbone_features(backbone, view), first)
    assert backbone.seen == 0


def test_overlapping_views_compute_only_new_rows(omniglot):
    backbone = CountingBackbone()
    backbone_features(backbone, omniglot.view(range(0, 20)))
    part = backbone_features(backbone, omniglot.view(range(10, 30)))
    assert backbone.seen == 30 and part.shape == (20, 2)
    backbone_features(backbone, omniglot.view(range(10, 30)), size=20)  # another size: another key
    assert backbone.seen == 50


@pytest.mark.parametrize("damage", ["truncate", "garbage", "tamper"])
def test_a_damaged_cache_file_is_recomputed(omniglot, damage):
    backbone, view = CountingBackbone(), omniglot.view()
    expected = backbone_features(backbone, view)
    (path,) = cache_dir("features").glob("*.pt")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a torch file")
    else:  # a loadable file whose numbers changed
        blob = torch.load(path, weights_only=True)
        blob["features"][0, 0] += 1
        torch.save(blob, path)
    backbone.seen = 0
    assert torch.equal(backbone_features(backbone, view), expected)
    assert backbone.seen == len(view)
    assert [p.name for p in cache_dir("features").iterdir()] == [path.name]  # no temp file left


def test_frozen_prototypes_end_to_end_records_the_outside_weights(omniglot):
    from fsbench.evaluation.runner import RunRequest, run

    config = {"threads": 1, "backbone.options": {"input_size": 128}}  # 3x cheaper than 224 px
    results = run(RunRequest("frozen-prototypes", "tiny-omniglot", "leave-signer-out", [0, 1], 2, 0,
                             config=config), omniglot)
    assert set(results["metrics"]) == {"S=0", "S=1"}
    assert results["metrics"]["S=0"]["top1"]["mean"] > 1 / 5  # above chance on 5 characters
    pretrained = results["method"]["pretrained"]
    assert pretrained["trained_on"] == "ImageNet-1k"
    assert pretrained["weights"] == "efficientnet-lite0-57934424.pth"


def test_embeddings_are_unit_rows_of_the_backbone_features(omniglot):
    method = FrozenPrototypes({"backbone.name": "hand2vec-charnet", "classifier": "max"})
    method.fit(omniglot.view(range(20)), seed=0)
    emb = method.embed(omniglot.view(range(20, 40)))
    assert emb.shape == (20, method.load_backbone().feature_dim)
    assert torch.allclose(emb.norm(dim=1), torch.ones(20), atol=1e-5)
    assert method.describe()["pretrained"] is None  # an untrained char net declares no weights


@pytest.mark.parametrize("config, needle", [
    ({"backbone.name": "imagenet-efficientnet-lite"}, "Did you mean 'imagenet-efficientnet-lite0'?"),
    ({"classifier": "prototypes"}, "Did you mean 'prototype'?"),
    ({"backbone.options": 224}, "backbone.options"),
    ({"backbone_options": {}}, "nearest: 'backbone.options'"),
    ({"threads": -1}, "threads"),
])
def test_bad_config_is_one_line(config, needle):
    with pytest.raises(FsbenchError) as err:
        FrozenPrototypes(config)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_options_a_backbone_does_not_take_are_one_line(omniglot):
    method = FrozenPrototypes({"backbone": {"options": {"size": 160}}})
    with pytest.raises(FsbenchError, match="does not take options") as err:
        method.fit(omniglot.view(), seed=0)
    assert "\n" not in str(err.value)
    assert registry.get("methods", "frozen-prototypes") is FrozenPrototypes
