"""hand2vec-ft on a registered backbone in stages: the siamese loss through fsbench's one trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fsbench.errors import FsbenchError
from fsbench.evaluation.runner import make_method
from fsbench.training.finetune import Finetuned
from fsbench_hand2vec.finetune import Siamese

HEAD = {"features": 8, "epochs": 2, "warmup_epochs": 0, "batch_size": 16, "widths": [72]}
RECIPE = {"epochs": 2, "batch_size": 8, "size": 24, "stages": 2}


def _config(backbone: str, finetune: bool = True) -> dict:
    return {"backbone": {"name": backbone, "keypoint_source": "none"}, "head": HEAD,
            **({"finetune": RECIPE} if finetune else {})}


def test_siamese_fine_tuning_of_a_pretrained_backbone(tiny, tiny_backbone, tmp_path, monkeypatch):
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path))
    method = make_method("hand2vec-ft", _config(tiny_backbone))
    train = tiny.view(np.flatnonzero(tiny.signers != "s1"))
    test = tiny.view(np.flatnonzero(tiny.signers == "s1"))
    method.fit(train, 0)
    assert isinstance(method.finetuned, Finetuned) and isinstance(method.finetuned.objective, Siamese)
    assert method.head is method.finetuned.objective.head and abs(method.head.alpha.item()) >= 1.0  # bounded
    frozen = make_method("hand2vec", _config(tiny_backbone, finetune=False))
    frozen.fit(train, 0)
    emb = method.embed(test)
    assert emb.shape == (len(test), 8) and torch.isfinite(emb).all()
    assert not torch.allclose(emb, frozen.embed(test))  # the features moved
    assert method.describe()["finetuning"]["cached"] is False
    again = make_method("hand2vec-ft", _config(tiny_backbone))
    again.fit(train, 0)
    assert again.describe()["finetuning"]["cached"] is True and torch.equal(again.embed(test), emb)


def test_a_backbone_without_stages_is_refused_in_one_line(tiny):
    method = make_method("hand2vec-ft", _config("mediapipe-hands"))
    with pytest.raises(FsbenchError, match="in stages"):
        method.fit(tiny.view(np.flatnonzero(tiny.signers != "s1")), 0)
