"""The §3.1.2 augmentations keep images finite and in range, whatever torchvision returns."""

from __future__ import annotations

import torch

from fsbench_hand2vec import augment


def test_photometric_keeps_images_in_unit_range():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 16, 16)
    y = augment.photometric(x)
    assert y.shape == x.shape and torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1
    assert not torch.equal(y, x)  # something was applied


def test_an_image_jittered_into_nan_is_used_unjittered(monkeypatch):
    calls = iter(range(100))

    class Poison:  # stands in for v2.Compose: the second image comes back NaN
        def __init__(self, ops):
            pass

        def __call__(self, im):
            return im * float("nan") if next(calls) == 1 else im * 0.5

    monkeypatch.setattr(augment.v2, "Compose", Poison)
    x = torch.rand(3, 3, 8, 8)
    y = augment.photometric(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y[1], x[1])
    torch.testing.assert_close(y[0], x[0] * 0.5)
