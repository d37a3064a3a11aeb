"""Statistics the results record is built from and re-checked with: bootstrap CIs, confusion encoding.

`fsbench run` computes them and every reader of a results file recomputes them with the very same
functions, so a check is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def bootstrap_ci(
    hits: np.ndarray, episode: np.ndarray, group: np.ndarray, seed: int, n_boot: int = 1000
) -> tuple[float, float]:
    """95 % CI of accuracy, resampling groups (signers) and then episodes within them.

    Two-level resampling reflects both sources of variance a reader cares about: which
    signers were tested, and which support examples were drawn. Each bootstrap replicate
    draws G groups with replacement and, for every drawn group, its episodes with
    replacement; accuracy is pooled over the drawn queries. Vectorised over replicates, so
    it costs milliseconds even for 40 signers × 100 episodes.
    """
    hits = np.asarray(hits, dtype=float)
    if len(hits) == 0:
        return (float("nan"), float("nan"))
    totals, denoms = _resampled_sums(hits, episode, group, np.random.default_rng([seed, 1234]), n_boot)
    lo, hi = np.percentile(totals / np.maximum(denoms, 1), [2.5, 97.5])
    return (float(lo), float(hi))


def seeded_bootstrap_ci(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], seed: int, n_boot: int = 1000
) -> tuple[float, float]:
    """95 % CI of accuracy pooled over training seeds: resample seeds, then each drawn seed's
    signers, then their episodes (`parts`: one (hits, episode, group) per seed).

    A seed's training luck moves all its episodes together, so pooling the episodes of three seeds
    into one episode bootstrap would call a lucky seed's 100 episodes 100 independent draws; here
    each replicate draws K seeds with replacement and, for each draw, an independent signer ×
    episode resample of that seed, and pools the drawn queries. More spread between seeds widens
    the interval; with one seed it is exactly `bootstrap_ci` (the same generator and draws). With
    K = 3 the seed level has only 10 distinct draws and, like any bootstrap over few units, tends
    to be narrow rather than wide (docs/protocols.md).
    """
    parts = [(np.asarray(h, dtype=float), e, g) for h, e, g in parts]
    if not parts or any(len(h) == 0 for h, _, _ in parts):
        return (float("nan"), float("nan"))
    k = len(parts)
    rng = np.random.default_rng([seed, 1234])
    # draw b, slot j of seed i: an independent inner resample for every seed a slot may draw
    sums = [_resampled_sums(h, e, g, rng, n_boot * k) for h, e, g in parts]
    totals = np.stack([t.reshape(n_boot, k) for t, _ in sums])  # (seed, draw, slot)
    denoms = np.stack([d.reshape(n_boot, k) for _, d in sums])
    chosen = np.random.default_rng([seed, 5678]).integers(0, k, size=(n_boot, k)) if k > 1 else np.zeros((n_boot, 1), int)
    draw, slot = np.arange(n_boot)[:, None], np.arange(k)[None, :]
    acc = totals[chosen, draw, slot].sum(axis=1) / np.maximum(denoms[chosen, draw, slot].sum(axis=1), 1)
    lo, hi = np.percentile(acc, [2.5, 97.5])
    return (float(lo), float(hi))


def _resampled_sums(
    hits: np.ndarray, episode: np.ndarray, group: np.ndarray, rng: np.random.Generator, n_boot: int
) -> tuple[np.ndarray, np.ndarray]:
    """(hits, queries) of `n_boot` two-level resamples: G groups with replacement, then each drawn
    group's episodes with replacement."""
    g_inv = np.unique(np.asarray(group), return_inverse=True)[1].ravel()
    cells, c_inv = np.unique(np.stack([g_inv, np.asarray(episode)]), axis=1, return_inverse=True)
    c_inv = c_inv.ravel()
    cell_sum = np.bincount(c_inv, weights=hits)
    cell_cnt = np.bincount(c_inv).astype(float)
    cell_group = cells[0]
    n_groups = int(cell_group.max()) + 1
    n_eps = np.bincount(cell_group, minlength=n_groups)
    width = int(n_eps.max())
    # (G, Emax) padded per-group episode sums/counts; cells are sorted by group already
    slot = np.arange(len(cell_group)) - np.concatenate([[0], np.cumsum(n_eps)[:-1]])[cell_group]
    sums = np.zeros((n_groups, width))
    cnts = np.zeros((n_groups, width))
    sums[cell_group, slot] = cell_sum
    cnts[cell_group, slot] = cell_cnt
    chosen = rng.integers(0, n_groups, size=(n_boot, n_groups))
    ne = n_eps[chosen][..., None]
    pick = np.minimum((rng.random((n_boot, n_groups, width)) * ne).astype(np.int64), ne - 1)
    live = np.arange(width) < ne
    rows = chosen[..., None]
    return (sums[rows, pick] * live).sum(axis=(1, 2)), (cnts[rows, pick] * live).sum(axis=(1, 2))


def episode_ci(correct: np.ndarray, counts: np.ndarray, seed: int, n_boot: int = 1000) -> tuple[float, float]:
    """95 % CI of pooled accuracy from per-episode (correct, n_query) counts, resampling episodes.

    This is what a results file's `episodes` rows allow after the fact (e.g. per-signer CIs in
    the report), without the per-query predictions.
    """
    correct = np.asarray(correct, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if len(counts) == 0 or counts.sum() == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng([seed, 4321])
    pick = rng.integers(0, len(counts), size=(n_boot, len(counts)))
    acc = correct[pick].sum(axis=1) / np.maximum(counts[pick].sum(axis=1), 1)
    lo, hi = np.percentile(acc, [2.5, 97.5])
    return (float(lo), float(hi))


def sparse_confusion(cm: np.ndarray) -> dict[str, Any]:
    """The non-zero cells `[true, pred, count]`, row-major: a 242-class matrix is 58 564 counts,
    of which an episode protocol fills a few per cent, so results files stay small."""
    t, p = np.nonzero(cm)
    return {"classes": int(cm.shape[0]), "cells": np.stack([t, p, cm[t, p]], axis=1).tolist()}


def dense_confusion(confusion: dict[str, Any] | list[list[int]]) -> np.ndarray:
    """(C, C) counts from a results file's `confusion` (sparse; a dense list from schema 1 too)."""
    if isinstance(confusion, list):
        return np.asarray(confusion, dtype=np.int64)
    cm = np.zeros((confusion["classes"], confusion["classes"]), np.int64)
    cells = np.asarray(confusion["cells"], dtype=np.int64).reshape(-1, 3)
    cm[cells[:, 0], cells[:, 1]] = cells[:, 2]
    return cm


def queried_confusion(confusion: dict[str, Any] | list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(class indices, counts among them) of the classes a confusion's cells touch: a figure's
    matrix, built from the sparse cells alone. The (C, C) matrix of `dense_confusion` grows with
    the class count a file claims (100 000 class names, a 1 MB file, made it 80 GB)."""
    if isinstance(confusion, list):
        cm = np.asarray(confusion, dtype=np.int64)
        keep = np.flatnonzero(cm.sum(axis=1) + cm.sum(axis=0))
        return keep, cm[np.ix_(keep, keep)]
    cells = np.asarray(confusion["cells"], dtype=np.int64).reshape(-1, 3)
    keep, where = np.unique(cells[:, :2], return_inverse=True)
    where = where.reshape(-1, 2)
    cm = np.zeros((len(keep), len(keep)), np.int64)
    np.add.at(cm, (where[:, 0], where[:, 1]), cells[:, 2])
    return keep, cm
