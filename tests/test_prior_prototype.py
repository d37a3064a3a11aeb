"""The prior-keeping classifier (`prior-prototype`): its limits and its arithmetic."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import KeepsPrior
from fsbench.evaluation.classifiers import PriorPrototypeClassifier, cosine_prototype


def _data(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(4, 16, generator=gen), dim=1)
    train_labels = torch.arange(4).repeat_interleave(6)
    train = centres[train_labels] + 0.4 * torch.randn(24, 16, generator=gen)
    support_labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    support = centres[support_labels] + 0.8 * torch.randn(8, 16, generator=gen)
    queries = centres[torch.arange(4).repeat(5)] + 0.5 * torch.randn(20, 16, generator=gen)
    return train, train_labels, support, support_labels, queries


def _prior(train, labels):
    unit = F.normalize(train, dim=1)
    return F.normalize(torch.stack([unit[labels == c].mean(0) for c in range(4)]), dim=1)


def test_registered_and_it_keeps_a_prior():
    clf = registry.get("classifiers", "prior-prototype")(n0=3)
    assert isinstance(clf, PriorPrototypeClassifier) and isinstance(clf, KeepsPrior) and clf.n0 == 3.0


def test_s0_is_the_plain_prior():
    train, tl, _, _, queries = _data()
    clf = PriorPrototypeClassifier(5.0).with_prior(train, tl).fit(torch.zeros(0, 16), torch.zeros(0))
    assert clf.classes_.tolist() == [0, 1, 2, 3]
    torch.testing.assert_close(clf.prototypes_, _prior(train, tl))
    torch.testing.assert_close(clf.scores(queries), F.normalize(queries, dim=1) @ _prior(train, tl).T)


def test_n0_zero_is_cosine_prototypes_of_unit_embeddings():
    train, tl, support, sl, queries = _data()
    ours = PriorPrototypeClassifier(0.0).with_prior(train, tl).fit(support, sl)
    plain = cosine_prototype().fit(F.normalize(support, dim=1), sl)
    torch.testing.assert_close(ours.scores(queries), plain.scores(queries))
    no_prior = PriorPrototypeClassifier(7.0).fit(support, sl)  # no prior handed over: plain as well
    torch.testing.assert_close(no_prior.scores(queries), plain.scores(queries))


def test_one_example_with_a_large_n0_barely_moves_the_prior():
    train, tl, support, sl, _ = _data()
    clf = PriorPrototypeClassifier(1e4).with_prior(train, tl).fit(support[:4], sl[:4])
    assert (F.cosine_similarity(clf.prototypes_, _prior(train, tl)) > 0.9999).all()
    far = PriorPrototypeClassifier(0.0).with_prior(train, tl).fit(support[:4], sl[:4])
    assert (F.cosine_similarity(far.prototypes_, _prior(train, tl)) < 0.99).all()  # the test can fail


def test_the_rule_by_hand_and_classes_without_support_keep_their_prior():
    train, tl, support, sl, _ = _data()
    clf = PriorPrototypeClassifier(2.0).with_prior(train, tl).fit(support[:3], sl[:3])  # class 3: no support
    prior, unit = _prior(train, tl), F.normalize(support[:3], dim=1)
    want = F.normalize(torch.cat([2.0 * prior[:3] + unit, prior[3:]]), dim=1)
    torch.testing.assert_close(clf.prototypes_, want)


def test_bad_n0_and_nothing_to_fit_are_refused():
    with pytest.raises(ValueError, match="n0"):
        PriorPrototypeClassifier(-1.0)
    with pytest.raises(ValueError, match="support"):
        PriorPrototypeClassifier().fit(torch.zeros(0, 4), torch.zeros(0))


def test_through_the_runner_s0_is_the_prior_and_n0_zero_is_plain_prototypes(tiny):
    from fsbench.evaluation.runner import RunRequest, run

    def top1(config):
        res = run(RunRequest("pixels", "tiny", "leave-signer-out", [0, 1], 4, 0, config=config), tiny)
        return {k: v["top1"]["mean"] for k, v in res["metrics"].items()}

    plain = top1({"size": 8})
    assert top1({"size": 8, "classifier": {"name": "prior-prototype", "n0": 0.0}}) == plain  # pixels are unit-norm
    kept = top1({"size": 8, "classifier.name": "prior-prototype", "classifier.n0": 50.0})
    assert kept["S=0"] == plain["S=0"]  # the prior is the training signers' prototype, as plain S = 0 is


def _n0_key(name: str) -> str | None:
    """Where a method's config keeps n0: `classifier.n0` in a typed config, `n0` in a plain dict."""
    from fsbench.configs import as_dict, flatten

    cls = registry.get("methods", name)
    config = cls.make_config()
    keys = flatten(as_dict(config)) if cls.config_class else config
    return next((k for k in ("classifier.n0", "n0") if k in keys), None)


@pytest.mark.parametrize("name", [n for n in registry.names("methods") if _n0_key(n)])
def test_n0_is_in_the_hash_of_every_embedding_method(name):
    from fsbench.configs import flatten
    from fsbench.evaluation.runner import make_method

    key = _n0_key(name)
    base = make_method(name, {})
    assert flatten(base.config_dict())[key] == 2.0  # the prior's n0, chosen with --dev
    assert make_method(name, {key: 3.0}).config_hash != base.config_hash


@pytest.mark.parametrize("name", [n for n in registry.names("methods") if _n0_key(n)])
def test_every_embedding_method_takes_the_prior_prototype_classifier(name):
    """A method with n0 must also accept the rule n0 belongs to (the baselines' dict used to refuse it)."""
    from fsbench.configs import flatten
    from fsbench.evaluation.runner import make_method

    key = "classifier.name" if _n0_key(name) == "classifier.n0" else "classifier"
    method = make_method(name, {key: "prior-prototype"})
    assert flatten(method.config_dict())[key] == "prior-prototype" != flatten(make_method(name, {}).config_dict())[key]
