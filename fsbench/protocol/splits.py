"""Signer splits: which rows train a method and which are tested, as folds with manifests.

Everything here is a pure function of (dataset content, seed): numpy's PCG64 generator is
platform-independent and ids are strings, so the manifest hashes are the same on every machine.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fsbench.api import Fold, SignerSplit, canonical_hash
from fsbench.data.dataset import FsDataset
from fsbench.errors import ProtocolError

def split_manifest(data: FsDataset, split_name: str, seed: int, folds: list[Fold]) -> dict[str, Any]:
    """The split's manifest and its SHA-256 (over everything but the hash itself)."""
    # ids only, not the dataset's content hash: the split's identity must not depend on how
    # a machine's image codec happened to encode the pixels
    body = {"split": split_name, "seed": seed, "folds": [f.manifest(data) for f in folds]}
    return {**body, "sha256": canonical_hash(body)}


def _signer_rows(data: FsDataset, signer: str) -> np.ndarray:
    return np.flatnonzero(data.signers == signer)


class LeaveSignerOut(SignerSplit):
    """One fold per signer; the method trains on every other signer only."""

    name: ClassVar[str] = "leave-signer-out"
    description: ClassVar[str] = "one fold per signer; train on the others, test on the one left out"

    def folds(self, data: FsDataset, seed: int) -> list[Fold]:
        signers = data.signer_names
        if len(signers) < 2:
            raise ProtocolError(
                f"leave-signer-out needs ≥2 signers; dataset {data.name!r} has {signers}"
            )
        out = []
        for s in signers:
            test = _signer_rows(data, s)
            train = np.flatnonzero(data.signers != s)
            classes = tuple(sorted(set(data.labels[test].tolist())))
            others = tuple(x for x in signers if x != s)
            out.append(Fold(f"signer={s}", "cross-signer", train, test, others, (s,), classes))
        return out


class SameSigner(SignerSplit):
    """The thesis's comparison: one fold per signer whose test part is a seeded half of that
    signer's images (per class); the other half, and every other signer, trains the method."""

    name: ClassVar[str] = "same-signer"
    description: ClassVar[str] = "train and test on the same signers, disjoint images (50/50 per class)"

    def folds(self, data: FsDataset, seed: int) -> list[Fold]:
        out = []
        for k, s in enumerate(data.signer_names):
            rng = np.random.default_rng([seed, k, 7])
            rows = _signer_rows(data, s)
            test_parts = []
            for c in np.unique(data.labels[rows]):
                cls_rows = rows[data.labels[rows] == c]
                cls_rows = cls_rows[np.argsort(data.ids[cls_rows])]
                test_parts.append(rng.permutation(cls_rows)[: len(cls_rows) // 2])
            test = np.sort(np.concatenate(test_parts))
            train = np.setdiff1d(np.arange(len(data)), test)
            classes = tuple(sorted(set(data.labels[test].tolist())))
            out.append(
                Fold(f"signer={s}", "same-signer", train, test, tuple(data.signer_names), (s,), classes)
            )
        return out


class UnseenClass(SignerSplit):
    """Class-disjoint split: train on some classes, classify never-seen ones from S examples.

    Uses the card's `unseen_classes` when the dataset fixes them (K49's 9, Omniglot's
    small2-only alphabets); otherwise a seeded 20 % of the classes.
    """

    name: ClassVar[str] = "unseen-class"
    description: ClassVar[str] = "train on some classes, test on classes never seen in training"

    def folds(self, data: FsDataset, seed: int) -> list[Fold]:
        names = data.class_names
        fixed = data.card.unseen_classes if data.card else ()
        if fixed:
            unseen = np.array(sorted(names.index(c) for c in fixed))
        else:
            rng = np.random.default_rng([seed, 11])
            unseen = np.sort(rng.permutation(len(names))[: max(2, len(names) // 5)])
        is_test = np.isin(data.labels, unseen)
        test, train = np.flatnonzero(is_test), np.flatnonzero(~is_test)
        if not len(train):
            raise ProtocolError(
                f"unseen-class on {data.name!r} holds out all {len(names)} classes: no class left to train on"
            )
        signers = tuple(data.signer_names)
        return [Fold("unseen-classes", "unseen-class", train, test, signers, signers, tuple(unseen.tolist()))]


