"""Signer splits (folds) and the low-shot episodes drawn inside them.

Everything here is a pure function of (dataset content, seed): numpy's PCG64 generator is
platform-independent and ids are strings, so the manifest hashes are the same on every machine.

Small-class policy (documented in docs/protocols.md and recorded in every results file):
a class with n ≤ S images of the test signer gets min(S, n − 1) support images, so at least one
query always remains; a class with a single image gives no support and is not queried.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from fsbench.api import SignerSplit
from fsbench.data.dataset import FsDataset
from fsbench.errors import ProtocolError

SMALL_CLASS_POLICY = "cap: support = min(S, n-1) so >=1 query remains; classes with n<2 skipped"


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Fold:
    """Which rows train the method and which rows are tested on, and why."""

    name: str
    kind: str  # "cross-signer" | "same-signer" | "unseen-class"
    train: np.ndarray
    test: np.ndarray
    train_signers: tuple[str, ...]
    test_signers: tuple[str, ...]
    test_classes: tuple[int, ...]

    def manifest(self, data: FsDataset) -> dict[str, Any]:
        train_ids = sorted(data.ids[self.train].tolist())
        test_ids = sorted(data.ids[self.test].tolist())
        return {
            "name": self.name,
            "kind": self.kind,
            "train_signers": list(self.train_signers),
            "test_signers": list(self.test_signers),
            "n_train": len(train_ids),
            "n_test": len(test_ids),
            "train_ids_sha256": sha256_json(train_ids),
            "test_ids_sha256": sha256_json(test_ids),
        }


def split_manifest(data: FsDataset, split_name: str, seed: int, folds: list[Fold]) -> dict[str, Any]:
    """The split's manifest and its SHA-256 (over everything but the hash itself)."""
    # ids only, not the dataset's content hash: the split's identity must not depend on how
    # a machine's image codec happened to encode the pixels
    body = {"split": split_name, "seed": seed, "folds": [f.manifest(data) for f in folds]}
    return {**body, "sha256": sha256_json(body)}


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


@dataclass(frozen=True)
class Episode:
    """One low-shot episode: support rows with labels handed to the classifier, query rows."""

    fold: int
    index: int
    signer: str | None
    shots: int
    support: np.ndarray
    query: np.ndarray
    classes: np.ndarray
    capped_classes: int = 0
    support_condition: str | None = field(default=None)


@dataclass(frozen=True)
class EpisodeSpec:
    shots: int
    episodes: int
    seed: int
    ways: int | None = None  # classes per episode (None: every test class)
    cross_condition: bool = False


def _draw(rng: np.random.Generator, rows: np.ndarray, shots: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(support, query, capped) for one class under the small-class policy."""
    n = len(rows)
    k = min(shots, n - 1)
    perm = rng.permutation(rows)
    return perm[:k], perm[k:], k < shots


def sample_episodes(data: FsDataset, folds: list[Fold], spec: EpisodeSpec) -> list[Episode]:
    """All episodes of a protocol, deterministic for (data, folds, spec)."""
    if spec.cross_condition and data.conditions is None:
        raise ProtocolError(
            f"dataset {data.name!r} records no recording condition; drop --cross-condition"
        )
    episodes: list[Episode] = []
    for f_i, fold in enumerate(folds):
        groups = [(s, fold.test[data.signers[fold.test] == s]) for s in fold.test_signers]
        if fold.kind == "unseen-class":
            groups = [(None, fold.test)]
        if spec.shots == 0 and fold.kind == "unseen-class":
            raise ProtocolError("S=0 has no meaning for unseen classes; use --shots 1 or more")
        for g_i, (signer, rows) in enumerate(groups):
            rows = rows[np.argsort(data.ids[rows])]  # canonical order, independent of file order
            # S=0 uses every query and no random support: one episode says it all
            n_episodes = 1 if spec.shots == 0 and spec.ways is None else spec.episodes
            for e in range(n_episodes):
                rng = np.random.default_rng([spec.seed, f_i, g_i, e, spec.shots])
                episodes.append(_episode(data, rows, f_i, e, signer, spec, rng))
    return episodes


def _episode(data, rows, f_i, e, signer, spec, rng) -> Episode:
    classes = np.unique(data.labels[rows])
    if spec.ways is not None:
        if spec.ways > len(classes):
            raise ProtocolError(f"--ways {spec.ways} exceeds the {len(classes)} test classes")
        classes = np.sort(rng.choice(classes, spec.ways, replace=False))
    if spec.shots == 0:
        query = rows[np.isin(data.labels[rows], classes)]
        return Episode(f_i, e, signer, 0, np.empty(0, np.int64), np.sort(query), classes)
    condition = None
    if spec.cross_condition:
        conds = np.unique(data.conditions[rows])
        condition = str(rng.choice(conds))
    support, query, capped = [], [], 0
    for c in classes:
        cls_rows = rows[data.labels[rows] == c]
        if condition is not None:
            pool = cls_rows[data.conditions[cls_rows] == condition]
            rest = cls_rows[data.conditions[cls_rows] != condition]
            s = rng.permutation(pool)[: spec.shots]
            capped += len(s) < spec.shots
            support.append(s)
            query.append(rest)
            continue
        if len(cls_rows) < 2:
            capped += 1
            continue
        s, q, was_capped = _draw(rng, cls_rows, spec.shots)
        capped += was_capped
        support.append(s)
        query.append(q)
    return Episode(
        f_i, e, signer, spec.shots, np.concatenate(support), np.sort(np.concatenate(query)),
        classes, capped, condition,
    )


def episodes_manifest(data: FsDataset, episodes: list[Episode]) -> str:
    """SHA-256 over every episode's support and query ids: the episode set's identity."""
    h = hashlib.sha256()
    for ep in episodes:
        h.update(f"{ep.fold}|{ep.index}|{ep.signer}|{ep.shots}|".encode())
        h.update(",".join(data.ids[ep.support].tolist()).encode() + b"|")
        h.update(",".join(data.ids[ep.query].tolist()).encode() + b"\n")
    return h.hexdigest()
