"""Development sets: choose hyperparameters without touching a split's test rows.

`development_set(data, split, seed)` is the first fold's *training* rows as a dataset of their own,
on which the same split runs again: leave-signer-out over the training signers only, or
unseen-class over a seeded fifth of the training classes (no card, so no fixed unseen classes).
A setting picked by its score here has never been scored on the real test rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from fsbench.api import SignerSplit
from fsbench.data.dataset import FsDataset
from fsbench.errors import ProtocolError


def development_set(data: FsDataset, split: SignerSplit, seed: int) -> FsDataset:
    """The first fold's training rows of `split` as a dataset named `<name>-dev`, labels 0..K−1."""
    rows = split.folds(data, seed)[0].train
    present = np.unique(data.labels[rows])
    if len(present) < 2:
        raise ProtocolError(f"{data.name}: the training rows of {split.name} hold {len(present)} class; no development set")
    lut = np.full(len(data.class_names), -1, np.int64)
    lut[present] = np.arange(len(present))
    hf = data.hf.select(rows).map(lambda labels: {"label": lut[np.asarray(labels)]}, batched=True,
                                  input_columns="label")
    key = dev_content_hash(data.content_hash, split.name, seed)
    names = [data.class_names[c] for c in present]
    # the card's input conventions (foreground, …) carry over; its fixed counts and unseen classes do not
    card = None if data.card is None else replace(
        data.card, name=f"{data.name}-dev", classes=tuple(names), signers=(), expected={}, unseen_classes=()
    )
    return FsDataset(f"{data.name}-dev", hf, names, key, data.revision, card)


def dev_content_hash(content_hash: str, split: str, seed: int) -> str:
    """The content hash a development set is stamped with: `fsbench publish` recognises a
    development run by it even when the results file's `development` flag was edited."""
    return hashlib.sha256(f"{content_hash}|dev|{split}|{seed}".encode()).hexdigest()
