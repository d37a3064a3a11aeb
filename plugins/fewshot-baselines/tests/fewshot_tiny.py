"""Tiny configs and a tiny real dataset shared by the fewshot-baselines tests."""

from __future__ import annotations

from fsbench.data.dataset import FsDataset
from fsbench.testing import real_omniglot

# one thread: two OpenMP threads on a busy 2-core machine spin against each other (3-7x slower)
TINY = {
    "backbone": "conv4", "width": 8, "size": 28, "mode": "L", "episodes": 6,
    "train_ways": 4, "train_shots": 2, "train_queries": 2, "threads": 1,
}
TINY_CLS = {"backbone": "conv4", "width": 8, "size": 28, "mode": "L", "epochs": 2, "batch_size": 16, "threads": 1}


def tiny_omniglot() -> FsDataset:
    """8 real Balinese characters × 20 drawers, five drawers to a "signer" (160 images)."""
    return real_omniglot("Balinese", n_chars=8, drawers=20, per_signer=5)
