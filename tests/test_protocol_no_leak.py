"""Honest protocol: in a cross-signer fold nothing learned sees the test signer.

A spy method records every row that reaches `fit` and every row it is asked to embed. The test
would fail if the evaluator handed the method any test-signer image for training, or if it
let test-signer images other than the S support examples reach the classifier's `fit`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from fsbench import registry
from fsbench.api import Method
from fsbench.data.dataset import DatasetView
from fsbench.evaluation.runner import RunRequest, run


class Spy(Method):
    name: ClassVar[str] = "spy"
    default_config: ClassVar[dict[str, Any]] = {}
    fitted: ClassVar[list[set[str]]] = []
    supports: ClassVar[list[torch.Tensor]] = []

    def fit(self, train: DatasetView, seed: int) -> None:
        Spy.fitted.append(set(train.signers.tolist()))

    def embed(self, view: DatasetView) -> torch.Tensor:
        # Row index as a 1-d "embedding" lets the test see exactly which rows reached the classifier.
        return torch.from_numpy(view.indices.astype(np.float32))[:, None]

    def make_classifier(self):
        spy_supports = Spy.supports

        class Recorder(registry.get("classifiers", "euclid-prototype")().__class__):
            def fit(self, support, labels):
                spy_supports.append(support[:, 0].long())
                return super().fit(support, labels)

        return Recorder("euclidean")


def test_fit_never_sees_the_test_signer_and_support_is_only_s_examples(tiny, monkeypatch):
    monkeypatch.setattr(registry, "find", _with_spy(registry.find))
    Spy.fitted.clear()
    Spy.supports.clear()
    results = run(RunRequest("spy", "tiny", "leave-signer-out", [2], 3, 0), tiny)
    test_signers = [f["test_signers"][0] for f in results["split"]["folds"]]
    assert len(Spy.fitted) == 3
    for trained_on, held_out in zip(Spy.fitted, test_signers):
        assert held_out not in trained_on
    per_fold = len(Spy.supports) // 3
    for k, held_out in enumerate(test_signers):
        for support in Spy.supports[k * per_fold : (k + 1) * per_fold]:
            assert set(tiny.signers[support.numpy()]) == {held_out}
            assert len(support) == 2 * len(tiny.class_names)  # exactly S per class


def _with_spy(find, name="spy", cls="Spy"):
    def patched(kind, n):
        if (kind, n) == ("methods", name):
            return registry.Plugin("methods", name, f"{__name__}:{cls}", "tests")
        return find(kind, n)

    return patched


class PriorSpy(Spy):
    """The same spy with the prior-keeping classifier: its prior must come from training rows only."""

    name: ClassVar[str] = "prior-spy"
    priors: ClassVar[list[torch.Tensor]] = []

    def make_classifier(self):
        spy_supports, spy_priors = Spy.supports, PriorSpy.priors

        class Recorder(registry.get("classifiers", "prior-prototype")().__class__):
            def with_prior(self, embeddings, labels):
                spy_priors.append(embeddings[:, 0].long())
                return super().with_prior(embeddings, labels)

            def fit(self, support, labels):
                spy_supports.append(support[:, 0].long())
                return super().fit(support, labels)

        return Recorder(2.0)


def test_the_prior_keeping_classifier_sees_training_rows_and_s_support_only(tiny, monkeypatch):
    monkeypatch.setattr(registry, "find", _with_spy(registry.find, "prior-spy", "PriorSpy"))
    Spy.fitted.clear()
    Spy.supports.clear()
    PriorSpy.priors.clear()
    results = run(RunRequest("prior-spy", "tiny", "leave-signer-out", [0, 2], 3, 0), tiny)
    test_signers = [f["test_signers"][0] for f in results["split"]["folds"]]
    assert len(Spy.fitted) == 3 and len(PriorSpy.priors) == len(Spy.supports) == len(results["episodes"])
    per_fold = len(Spy.supports) // 3
    for k, held_out in enumerate(test_signers):
        assert held_out not in Spy.fitted[k]
        for support, prior in zip(Spy.supports[k * per_fold : (k + 1) * per_fold],
                                  PriorSpy.priors[k * per_fold : (k + 1) * per_fold]):
            assert held_out not in set(tiny.signers[prior.numpy()]) and len(prior) > 0
            assert set(tiny.signers[support.numpy()]) <= {held_out}
            assert len(support) in (0, 2 * len(tiny.class_names))  # S = 0: the prior alone; else S per class
    assert sum(len(s) == 0 for s in Spy.supports) == sum(e["shots"] == 0 for e in results["episodes"]) > 0


class Diverged(Spy):
    """A method whose training blew up: NaN embeddings must stop the run, not score chance."""

    name: ClassVar[str] = "diverged"

    def embed(self, view: DatasetView) -> torch.Tensor:
        return torch.full((len(view), 4), float("nan"))


def test_non_finite_embeddings_fail_loudly(tiny, monkeypatch):
    import pytest

    from fsbench.errors import FsbenchError

    find = registry.find

    def patched(kind, name):
        if (kind, name) == ("methods", "diverged"):
            return registry.Plugin("methods", "diverged", f"{__name__}:Diverged", "tests")
        return find(kind, name)

    monkeypatch.setattr(registry, "find", patched)
    with pytest.raises(FsbenchError, match="non-finite embeddings"):
        run(RunRequest("diverged", "tiny", "leave-signer-out", [1], 1, 0), tiny)


def test_the_fine_tuning_trainer_sees_training_signers_only(tiny, tiny_backbone, tmp_path, monkeypatch):
    """Every method on a pretrained backbone in stages trains through fsbench.training.finetune;
    whatever reaches it is the fold's training view, never a test signer's image."""
    import pytest

    from fsbench.training import finetune as trainer

    pytest.importorskip("fsbench_fewshot_baselines")
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path))
    seen: list[set[str]] = []
    real = trainer.finetuned

    def spy(make_backbone, starting, recipe, make_objective, train, seed, identity, **kw):
        seen.append(set(train.signers.tolist()))
        return real(make_backbone, starting, recipe, make_objective, train, seed, identity, **kw)

    monkeypatch.setattr(trainer, "finetuned", spy)
    config = {"backbone": tiny_backbone, "recipe": {"epochs": 1, "batch_size": 8, "size": 24, "stages": 2, "views": 2}}
    results = run(RunRequest("finetune", "tiny", "leave-signer-out", [0, 1], 2, 0, config=config), tiny)
    held_out = [f["test_signers"][0] for f in results["split"]["folds"]]
    assert len(seen) == len(held_out) == 3
    for trained_on, signer in zip(seen, held_out):
        assert signer not in trained_on and trained_on
