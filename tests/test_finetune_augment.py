"""Fine-tuning augmentation: seeded, per image, in range, and never a flip where the card forbids it."""

from __future__ import annotations

from dataclasses import replace

import torch

from fsbench.data.prepare.massey import CARD, CARD_224
from fsbench.training.augment import Augment


def _asymmetric(n: int = 6, size: int = 32) -> torch.Tensor:
    """Images with all their mass on the left: a mirror image moves it to the right."""
    x = torch.zeros(n, 3, size, size)
    x[:, :, 8:24, 2:12] = torch.linspace(0.3, 0.9, n)[:, None, None, None]
    return x


def _mass_right(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x[..., half:].sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3)).clamp_min(1e-9)


def test_hands_are_never_flipped():
    for card in (CARD, CARD_224):
        assert card.flips is False and Augment.for_card(card).flip is False
    aug = Augment.for_card(CARD)
    for seed in range(5):  # rotation ±15° and shift ±10 % keep the mass on the left
        assert (_mass_right(aug(_asymmetric(), torch.Generator().manual_seed(seed))) < 0.5).all()


def test_flips_happen_where_the_card_allows_them():
    aug = Augment.for_card(replace(CARD, flips=True), rotation=0.0, shift=0.0, scale=(1.0, 1.0))
    right = _mass_right(aug(_asymmetric(64), torch.Generator().manual_seed(0)))
    assert 10 < int((right > 0.5).sum()) < 54  # about half, drawn per image


def test_deterministic_under_a_seed_and_per_image():
    x = torch.rand(5, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    aug = Augment()
    a, b = aug(x, torch.Generator().manual_seed(7)), aug(x, torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.shape == x.shape
    assert not torch.equal(a, aug(x, torch.Generator().manual_seed(8)))
    same = aug(x[:1].expand(4, -1, -1, -1), torch.Generator().manual_seed(7))
    assert not torch.equal(same[0], same[1])  # each image its own parameters
    assert a.min() >= 0 and a.max() <= 1


def test_off_is_the_identity_and_grey_images_work():
    x = torch.rand(3, 1, 16, 16)
    assert torch.equal(Augment.off()(x, torch.Generator()), x)
    assert Augment()(x, torch.Generator().manual_seed(0)).shape == x.shape
