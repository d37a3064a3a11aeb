"""Low-shot episodes inside a fold: deterministic sampling under the small-class policy, and the
SHA-256 manifest that names an episode set.

Small-class policy (docs/protocols.md, recorded in every results file): a class with n ≤ S images
of the test signer gets min(S, n − 1) support images, so at least one query always remains; a
class with a single image gives no support and is not queried.

Cross-condition episodes draw support from one recording condition and query the others. A class
the test signer never recorded in that condition has no support there, so its queries could only
be scored wrong: it is dropped from the episode (neither support nor query) and counted in
`Episode.dropped_classes`, which results record per episode and per S.
"""

from __future__ import annotations

import hashlib

import numpy as np

from fsbench.api import Episode, EpisodeSpec, Fold
from fsbench.data.dataset import FsDataset
from fsbench.errors import ProtocolError

SMALL_CLASS_POLICY = "cap: support = min(S, n-1) so >=1 query remains; classes with n<2 skipped"


def _draw(rng: np.random.Generator, rows: np.ndarray, shots: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(support, query, capped) for one class under the small-class policy."""
    n = len(rows)
    k = min(shots, n - 1)
    perm = rng.permutation(rows)
    return perm[:k], perm[k:], k < shots


def sample_episodes(data: FsDataset, folds: list[Fold], spec: EpisodeSpec) -> list[Episode]:
    """All episodes of a protocol, deterministic for (data, folds, spec)."""
    if spec.cross_condition:
        _check_conditions(data, folds)
    episodes: list[Episode] = []
    for f_i, fold in enumerate(folds):
        groups = _groups(data, fold)
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


def _two_conditions(data: FsDataset, rows: np.ndarray) -> bool:
    return len(np.unique(data.conditions[rows])) >= 2


def _check_conditions(data: FsDataset, folds: list[Fold]) -> None:
    """Cross-condition needs a condition for support and another to query. A test signer who
    recorded one condition only has nothing to query (Massey's signers 3 and 4: their episodes hold
    no queries and count for nothing); a split where no test signer has two is refused before any
    work, since it could only produce an empty result."""
    if data.conditions is None:
        raise ProtocolError(f"dataset {data.name!r} records no recording condition; drop --cross-condition")
    groups = [rows for fold in folds for _, rows in _groups(data, fold)]
    if not any(_two_conditions(data, rows) for rows in groups):
        found = np.unique(data.conditions[np.concatenate(groups)]) if groups else []
        raise ProtocolError(
            f"--cross-condition: no test signer of {data.name!r} has images of two recording conditions "
            f"(found {', '.join(map(str, found)) or 'none'}); support and queries need two different ones: "
            "drop --cross-condition for this dataset")


def _groups(data: FsDataset, fold: Fold) -> list[tuple[str | None, np.ndarray]]:
    """The episode groups of a fold: one per test signer, or the unseen classes as one."""
    if fold.kind == "unseen-class":
        return [(None, fold.test)]
    return [(s, fold.test[data.signers[fold.test] == s]) for s in fold.test_signers]


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
    support, query, capped, kept = [], [], 0, []
    for c in classes:
        cls_rows = rows[data.labels[rows] == c]
        if condition is not None:
            pool = cls_rows[data.conditions[cls_rows] == condition]
            if not len(pool):  # no support in this condition: its queries could only be wrong
                continue
            rest = cls_rows[data.conditions[cls_rows] != condition]
            s = rng.permutation(pool)[: spec.shots]
            capped += len(s) < spec.shots
            support.append(s)
            query.append(rest)
            kept.append(c)
            continue
        if len(cls_rows) < 2:
            capped += 1
            continue
        s, q, was_capped = _draw(rng, cls_rows, spec.shots)
        capped += was_capped
        support.append(s)
        query.append(q)
        kept.append(c)
    dropped = 0
    if condition is not None:  # the episode's classes are those with support in its condition
        dropped, classes = len(classes) - len(kept), np.asarray(kept, dtype=classes.dtype)
    if not support:  # every class has one image here: nothing can be both support and query
        raise ProtocolError(f"{data.name}: every class of {signer or 'fold ' + str(f_i)}'s test images has a single image, "
                            f"so no episode can hold a support and a query at S={spec.shots}; "
                            "each class needs at least 2 images per signer")
    return Episode(
        f_i, e, signer, spec.shots, np.concatenate(support), np.sort(np.concatenate(query)),
        classes, capped, condition, dropped,
    )


def episodes_manifest(data: FsDataset, episodes: list[Episode]) -> str:
    """SHA-256 over every episode's support and query ids: the episode set's identity."""
    h = hashlib.sha256()
    for ep in episodes:
        h.update(f"{ep.fold}|{ep.index}|{ep.signer}|{ep.shots}|".encode())
        h.update(",".join(data.ids[ep.support].tolist()).encode() + b"|")
        h.update(",".join(data.ids[ep.query].tolist()).encode() + b"\n")
    return h.hexdigest()
