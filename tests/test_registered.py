"""Every registered plugin honours its contract: tests parametrised over what is installed
(timm-style), so a new plugin is tested by being installed — all six kinds: classifiers,
backbones, methods, splits, datasets and heads (typed method configs: tests/test_configs.py).

Methods run their `test_config` (a small override a plugin declares for exactly this) on the
tiny synthetic dataset: fit on two signers, embed the third, classify with their own classifier.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fsbench import registry
from fsbench.api import EmbeddingHead, Fold, LowShotClassifier, Method, PoseBackbone, SignerSplit, config_hash


@pytest.mark.parametrize("name", registry.names("classifiers"))
def test_classifier_contract(name):
    clf = registry.get("classifiers", name)()
    assert isinstance(clf, LowShotClassifier)
    gen = torch.Generator().manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(3, 8, generator=gen), dim=1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    support = torch.nn.functional.normalize(centres[labels] + 0.05 * torch.randn(6, 8, generator=gen), dim=1)
    clf.fit(support, labels)
    scores = clf.scores(centres)
    assert scores.shape == (3, 3) and torch.isfinite(scores).all()
    assert clf.predict_topk(centres, k=2).shape == (3, 2)
    assert clf.predict_topk(centres)[:, 0].tolist() == [0, 1, 2]  # each centre finds its class


@pytest.mark.parametrize("name", registry.names("backbones"))
def test_backbone_declares_its_contract(name):
    cls = registry.get("backbones", name)
    assert isinstance(cls, type) and issubclass(cls, PoseBackbone), f"{name} is not a PoseBackbone"
    assert cls.__doc__, f"backbone {name} has no docstring for `fsbench info`"


@pytest.mark.parametrize("name", registry.names("methods"))
def test_method_fits_embeds_and_classifies(name, tiny):
    cls = registry.get("methods", name)
    assert issubclass(cls, Method) and cls.__doc__, f"method {name} needs a Method subclass with a docstring"
    if cls.test_data != "tiny":
        pytest.skip(f"{name} needs {cls.test_data} images; its plugin's own tests run it on them")
    method = cls(dict(cls.test_config))
    train = tiny.view(np.flatnonzero(tiny.signers != "s1"))
    test = tiny.view(np.flatnonzero(tiny.signers == "s1"))
    method.fit(train, seed=0)
    emb = method.embed(test)
    assert isinstance(emb, torch.Tensor) and emb.ndim == 2 and len(emb) == len(test)
    assert torch.isfinite(emb).all()
    clf = method.make_classifier()
    assert isinstance(clf, LowShotClassifier)
    support = torch.arange(0, len(test), 2)
    clf.fit(emb[support], torch.from_numpy(test.labels)[support])
    assert clf.scores(emb).shape[0] == len(test)
    record = method.describe()
    json.dumps(record)  # results files must be able to hold it
    # the board identity is the hash of the config the results record (as resolved by fit)
    # (a plain-dict config leaves keys added after entries were published out at their old value: Method.late_keys)
    hashed = record["config"] if cls.config_class else {
        k: v for k, v in record["config"].items() if k not in cls.late_keys or v != cls.late_keys[k]}
    assert record["config_hash"] == config_hash({"method": name, "version": record["version"], **hashed})



@pytest.mark.parametrize("name", registry.names("splits"))
def test_split_gives_deterministic_disjoint_folds_that_keep_their_promise(name, tiny):
    cls = registry.get("splits", name)
    assert isinstance(cls, type) and issubclass(cls, SignerSplit) and cls.__doc__, f"split {name} needs a documented SignerSplit"
    assert cls.name == name, f"split {name} calls itself {cls.name!r}; results name the split by it"
    folds, again = cls().folds(tiny, seed=0), cls().folds(tiny, seed=0)
    assert folds and [f.manifest(tiny) for f in folds] == [f.manifest(tiny) for f in again]  # seeded, repeatable
    for fold in folds:
        assert isinstance(fold, Fold) and fold.kind in ("cross-signer", "same-signer", "unseen-class")
        train, test = set(fold.train.tolist()), set(fold.test.tolist())
        assert train and test and not train & test, f"{name}/{fold.name}: a row is both trained on and tested"
        assert set(tiny.signers[fold.test]) <= set(fold.test_signers)
        assert set(tiny.labels[fold.test].tolist()) <= set(fold.test_classes)
        if fold.kind == "cross-signer":  # the honest protocol: nothing learned has seen the test signer
            assert not set(tiny.signers[fold.train]) & set(fold.test_signers)
        if fold.kind == "unseen-class":
            assert not set(tiny.labels[fold.train].tolist()) & set(tiny.labels[fold.test].tolist())
        json.dumps(fold.manifest(tiny))  # what results files record


@pytest.mark.parametrize("name", registry.names("datasets"))
def test_dataset_declares_its_card_and_refuses_another_layout_in_one_line(name, tmp_path):
    from fsbench.data.builder import DatasetBuilder
    from fsbench.data.cards import DatasetCard
    from fsbench.errors import DatasetError

    cls = registry.get("datasets", name)
    assert isinstance(cls, type) and issubclass(cls, DatasetBuilder)  # its card is its documentation
    card = cls.card
    assert isinstance(card, DatasetCard) and card.name == name, f"dataset {name}'s card is named {card.name!r}"
    assert card.title and card.description and card.license and card.citation and card.raw_layout
    assert len(set(card.classes)) == len(card.classes), f"dataset {name} lists a class twice"
    assert set(card.unseen_classes) <= set(card.classes)
    empty = tmp_path / "not-the-layout"
    empty.mkdir()
    with pytest.raises(DatasetError) as err:  # an empty folder is no dataset's raw layout
        cls().check_layout(empty)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", registry.names("heads"))
def test_head_embeds_to_unit_rows_learns_and_classifies(name):
    """Built the way `HeadMethod.build_head` builds it, used the way `train_head` and the evaluator use it."""
    factory = registry.get("heads", name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        head = factory(12, 4, widths=None, dropout=0.5, input_norm=False, squeeze=0)
    assert isinstance(head, EmbeddingHead) and type(head).__doc__, f"head {name} needs a documented EmbeddingHead"
    x = torch.randn(10, 12, generator=torch.Generator().manual_seed(1))
    head.train()
    head(x).sum().backward()
    assert any(p.grad is not None for p in head.parameters()), f"head {name} has nothing to learn"
    head.eval()
    z = head(x)
    assert z.shape == (10, 4) and torch.allclose(z.norm(dim=1), torch.ones(10), atol=1e-5)
    assert torch.equal(z, head(x))  # eval mode is deterministic
    assert head.similarity(z, z).shape == (10, 10)
    head.bound_alpha(0.0)
    json.dumps(head.learned())  # results record it
    clf = head.classifier("max")
    assert isinstance(clf, LowShotClassifier)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])
    assert clf.fit(z, labels).scores(z).shape == (10, 4)
