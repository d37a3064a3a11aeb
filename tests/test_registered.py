"""Every registered plugin honours its contract: tests parametrised over what is installed
(timm-style), so a new plugin is tested by being installed.

Methods run their `test_config` (a small override a plugin declares for exactly this) on the
tiny synthetic dataset: fit on two signers, embed the third, classify with their own classifier.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fsbench import registry
from fsbench.api import LowShotClassifier, Method, PoseBackbone, config_hash


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
    # (keys added after entries were published stay out of it at their old value: Method.late_keys)
    hashed = {k: v for k, v in record["config"].items() if k not in cls.late_keys or v != cls.late_keys[k]}
    assert record["config_hash"] == config_hash({"method": name, "version": record["version"], **hashed})
