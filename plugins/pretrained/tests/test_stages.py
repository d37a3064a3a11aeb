"""Both pretrained backbones in stages (fsbench.api.Finetunable): the stages compose to `features`
exactly, share the network's parameters, and run at a smaller size for a trainer that wants it."""

from __future__ import annotations

import pytest
import torch

from fsbench.api import Finetunable
from fsbench_pretrained.efficientnet import EfficientNetLite0Backbone
from fsbench_pretrained.handnet import HandNetBackbone


@pytest.mark.parametrize("make, count", [(HandNetBackbone, 10), (EfficientNetLite0Backbone, 9)])
def test_stages_compose_to_the_features(make, count):
    bb = make()
    assert isinstance(bb, Finetunable)
    stages = bb.stages()
    assert len(stages) == count
    x = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        h = bb.prepare(x)
        for stage in stages:
            h = stage(h)
        assert torch.equal(h.flatten(1), bb.features(x))
        small = bb.prepare(x, 160)
        assert small.shape[-2:] == (160, 160)
        for stage in stages:
            small = stage(small)
        assert small.flatten(1).shape == (2, bb.feature_dim)
    module_params = {id(p) for p in bb.module.parameters()}
    assert {id(p) for s in stages for p in s.parameters()} <= module_params  # training a stage trains the net
