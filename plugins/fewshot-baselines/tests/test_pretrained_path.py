"""The baselines on a registered backbone in stages go through fsbench's one fine-tuning trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fsbench.errors import FsbenchError
from fsbench.evaluation.runner import make_method
from fsbench.training.finetune import Finetuned
from fsbench.training.objectives import CrossEntropy, Episodic

RECIPE = {"epochs": 2, "batch_size": 8, "size": 24, "lr": 3e-3, "head_lr": 3e-2}


@pytest.mark.parametrize("name, objective", [("finetune", CrossEntropy), ("supervised-cnn", CrossEntropy),
                                             ("protonet", Episodic), ("matchingnet", Episodic)])
def test_fit_embed_classify_through_the_shared_trainer(tiny, tiny_backbone, tmp_path, monkeypatch, name, objective):
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path))
    config = {"backbone": tiny_backbone, "recipe": RECIPE}
    if objective is Episodic:
        config.update(train_ways=4, train_shots=1, train_queries=2)
    method = make_method(name, config)
    train = tiny.view(np.flatnonzero(tiny.signers != "s1"))
    test = tiny.view(np.flatnonzero(tiny.signers == "s1"))
    method.fit(train, 0)
    assert isinstance(method.net, Finetuned) and isinstance(method.net.objective, objective)
    assert method.trainings[-1]["cached"] is False
    assert method.trainings[-1]["recipe"]["stages"] == 2  # on the CPU: CPU_RECIPE under the given overrides
    emb = method.embed(test)
    assert emb.shape[0] == len(test) and torch.isfinite(emb).all()
    clf = method.make_classifier().fit(emb[::2], torch.from_numpy(test.labels[::2]))
    assert clf.predict_topk(emb, 1).shape == (len(test), 1)
    again = make_method(name, config)
    again.fit(train, 0)
    assert again.trainings[-1]["cached"] is True
    assert torch.equal(again.embed(test), emb)
    assert method.describe()["pretrained"]["backbone"] == tiny_backbone


def test_a_bad_recipe_is_one_line_before_training(tiny, tiny_backbone):
    method = make_method("finetune", {"backbone": tiny_backbone, "recipe": {"epoch": 2}})
    with pytest.raises(FsbenchError, match="no config key .epoch.; nearest: .epochs."):
        method.fit(tiny.view(np.flatnonzero(tiny.signers != "s1")), 0)
