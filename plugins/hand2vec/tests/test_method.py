"""hand2vec as an fsbench Method: the honest protocol (no leak), caching, classifier rules."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from fsbench.api import PoseBackbone
from fsbench.configs import get
from fsbench.evaluation.classifiers import SimilarityClassifier
from fsbench.data.dataset import FsDataset
from fsbench.errors import FsbenchError
from fsbench.paths import cache_dir
from fsbench.protocol.splits import LeaveSignerOut
from fsbench.heads import method as head_method
from fsbench_hand2vec import method as method_mod
from fsbench_hand2vec.method import Hand2Vec

TINY = {
    "backbone.epochs": 1, "backbone.warmup_epochs": 0, "backbone.batch_size": 16,
    "head.epochs": 2, "head.warmup_epochs": 0, "head.batch_size": 16, "head.widths": [136],
    "head.features": 4,
}


class SpyLabeller(PoseBackbone):
    """A keypoint backbone that remembers every image it is shown."""

    input_size = (24, 24)
    channels = 3
    feature_dim = 1

    def __init__(self):
        self.seen: set[str] = set()

    def features(self, images):
        return torch.zeros(len(images), 1)

    def keypoints(self, images):
        u8 = (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        self.seen.update(hashlib.sha256(im.tobytes()).hexdigest() for im in u8)
        kp = torch.rand(len(images), 21, 3) * 24
        kp[..., 2] = 1
        return kp

    def fingerprint(self):
        return f"spy-{id(self)}"


@pytest.fixture
def spies(monkeypatch, tmp_path):
    """Record every dataset row read and every image the labeller sees, with a fresh cache."""
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path))
    labeller = SpyLabeller()
    monkeypatch.setattr(method_mod, "resolve_labeller", lambda name: labeller)
    rows: set[int] = set()
    original = FsDataset.images

    def spy_images(self, indices, size, mode="RGB"):
        rows.update(np.asarray(indices).tolist())
        return original(self, indices, size, mode)

    monkeypatch.setattr(FsDataset, "images", spy_images)
    return labeller, rows


def _hashes(data, rows, size):
    return {hashlib.sha256(im.tobytes()).hexdigest() for im in data.images(np.asarray(rows), size)}


def test_fit_never_sees_the_test_signer(tiny, spies):
    labeller, rows = spies
    fold = LeaveSignerOut().folds(tiny, seed=0)[0]
    method = Hand2Vec({**TINY, "backbone.name": "posenet"})
    method.fit(tiny.view(fold.train), seed=0)
    test_rows = set(fold.test.tolist())
    assert rows and rows.isdisjoint(test_rows), "fit read pixels of the test signer"
    assert labeller.seen and labeller.seen.isdisjoint(_hashes(tiny, fold.test, 24)), "pseudo-labeller saw the test signer"
    assert labeller.seen == _hashes(tiny, fold.train, 24)
    # the spies work: embedding the test view does read the test signer's rows
    emb = method.embed(tiny.view(fold.test))
    assert test_rows <= rows
    assert emb.shape == (len(fold.test), 4)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(len(fold.test)))


def test_spies_catch_a_leaky_fit(tiny, spies):
    """The same check on a fit over the whole dataset must fail, or the test above proves nothing."""
    labeller, rows = spies
    fold = LeaveSignerOut().folds(tiny, seed=0)[0]
    Hand2Vec({**TINY, "backbone.name": "posenet"}).fit(tiny.view(), seed=0)
    assert not rows.isdisjoint(set(fold.test.tolist()))
    assert not labeller.seen.isdisjoint(_hashes(tiny, fold.test, 24))


def test_fit_is_cached_and_classifier_uses_learned_alpha_beta(tiny, spies):
    labeller, _ = spies
    train = tiny.view(np.flatnonzero(tiny.signers != "s1"))
    m1 = Hand2Vec({**TINY, "backbone.name": "posenet", "classifier": "softmax"})
    m1.fit(train, seed=1)
    seen = set(labeller.seen)
    labeller.seen.clear()
    m2 = Hand2Vec({**TINY, "backbone.name": "posenet", "classifier": "softmax"})
    m2.fit(train, seed=1)
    assert not labeller.seen  # backbone came from the cache: no pseudo-labelling again
    assert seen
    assert m1.backbone.fingerprint() == m2.backbone.fingerprint()
    clf = m2.make_classifier()
    assert isinstance(clf, SimilarityClassifier) and clf.rule == "softmax"
    assert clf.alpha == pytest.approx(m2.head.alpha.item()) and clf.beta == pytest.approx(m2.head.beta.item())


@pytest.mark.parametrize("backbone", ["posenet", "charnet"])
def test_backbone_trains_once_then_loads_the_same_weights(tiny, spies, monkeypatch, backbone):
    calls = []
    real = getattr(method_mod, f"train_{backbone}")
    monkeypatch.setattr(method_mod, f"train_{backbone}", lambda *a, **k: calls.append(1) or real(*a, **k))
    train = tiny.view(np.flatnonzero(tiny.signers != "s1"))
    config = {**TINY, "backbone.name": backbone}
    first = Hand2Vec(config).fit_backbone(train, seed=1)
    again = Hand2Vec(config).fit_backbone(train, seed=1)
    assert calls == [1]  # the second fit loaded the cached net
    assert first.net.state_dict().keys() == again.net.state_dict().keys()
    assert all(torch.equal(a, again.net.state_dict()[k]) for k, a in first.net.state_dict().items())
    (path,) = cache_dir("hand2vec").glob(f"backbone-{backbone}-*.pt")
    path.write_bytes(b"truncated")
    retrained = Hand2Vec(config).fit_backbone(train, seed=1)
    assert calls == [1, 1]  # a corrupt cache file is retrained, not an error
    assert retrained.fingerprint() == first.fingerprint()  # seeded: the same weights again


def test_head_is_cached_per_config(tiny, spies, monkeypatch):
    train = tiny.view(np.flatnonzero(tiny.signers != "s1"))
    first = Hand2Vec({**TINY, "backbone.name": "posenet"})
    first.fit(train, seed=1)
    trained = []
    monkeypatch.setattr(head_method, "train_head", lambda head, *a: trained.append(head) or head.eval())
    again = Hand2Vec({**TINY, "backbone.name": "posenet"})
    again.fit(train, seed=1)  # same config, view, seed: the cached head, not a new one
    assert not trained
    for a, b in zip(first.head.state_dict().values(), again.head.state_dict().values()):
        assert torch.equal(a, b)
    Hand2Vec({**TINY, "backbone.name": "posenet", "head.epochs": 3}).fit(train, seed=1)
    assert len(trained) == 1  # another head config trains its own


def test_auto_backbone_picks_charnet_for_grayscale(tiny, monkeypatch, spies):
    monkeypatch.setattr(method_mod, "is_grayscale", lambda view: True)
    m = Hand2Vec({**TINY, "head.widths": [48]})
    m.fit(tiny.view(np.arange(24)), seed=0)
    assert m.backbone.feature_dim == 32 and m.embed(tiny.view(np.arange(3))).shape == (3, 4)


def test_bad_config_is_one_line_error():
    with pytest.raises(FsbenchError, match="use auto, posenet or charnet"):
        Hand2Vec({"backbone.name": "resnet"})
    with pytest.raises(FsbenchError, match="no config key"):
        Hand2Vec({"nope": 1})


def test_balanced_subset_keeps_class_shares():
    labels = np.array([0] * 40 + [1] * 20 + [2] * 10)
    idx = method_mod.balanced_subset(labels, 35, seed=0)
    assert np.bincount(labels[idx]).tolist() == [20, 10, 5]
    assert (np.diff(idx) > 0).all()
    np.testing.assert_array_equal(idx, method_mod.balanced_subset(labels, 35, seed=0))


def test_auto_backbone_settings_take_the_backbones_budget_and_keep_explicit_ones():
    config = Hand2Vec({"backbone.epochs": 2}).config
    pose = method_mod.resolve_budget(config, "posenet").backbone
    assert (pose.epochs, pose.max_images, pose.lr_max) == (2, 600, 0.02)
    char = method_mod.resolve_budget(config, "charnet").backbone
    assert (char.epochs, char.max_images, char.lr_max) == (2, 0, 0.1)
    resolved = [method_mod.resolve_budget(config, kind) for kind in ("posenet", "charnet")]
    assert all(get(c, k) != "auto" for c in resolved for k in method_mod.BACKBONE_BUDGETS["posenet"])
    assert method_mod.resolve_budget(config, "mediapipe-handnet").head.features == 64