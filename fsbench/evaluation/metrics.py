"""Metrics from per-episode predictions: top-k, per signer/class/fold, bootstrap CIs, confusions.

Inputs are plain numpy arrays so the same functions serve `fsbench run`, the report and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fsbench.api import Episode


@dataclass(frozen=True)
class Outcome:
    """One classified episode: what its metrics and its row in the results are made of."""

    episode: Episode
    true: np.ndarray  # (q,) int, the queries' labels
    top2: np.ndarray  # (q, 2) int, -1 where no prediction
    valid: np.ndarray  # (q,) bool, False where the method could not embed the query


@dataclass
class Predictions:
    """Every query of every episode at one S: true label, top-2 predictions, and grouping keys."""

    true: np.ndarray  # (Q,) int
    top2: np.ndarray  # (Q, 2) int, -1 where no prediction (e.g. no hand detected)
    episode: np.ndarray  # (Q,) int, global episode number
    signer: np.ndarray  # (Q,) str, test signer ("all" for class-disjoint folds)
    fold: np.ndarray  # (Q,) str
    valid: np.ndarray  # (Q,) bool, False where the method could not embed the query

    @classmethod
    def of(cls, outcomes: list[Outcome], fold_names: list[str]) -> Predictions:
        """Every query of `outcomes` (one S), numbered by episode in the order given."""
        return cls(
            true=np.concatenate([o.true for o in outcomes]),
            top2=np.concatenate([o.top2 for o in outcomes]),
            episode=np.concatenate([np.full(len(o.true), i) for i, o in enumerate(outcomes)]),
            signer=np.concatenate([np.full(len(o.true), o.episode.signer or "all") for o in outcomes]),
            fold=np.concatenate([np.full(len(o.true), fold_names[o.episode.fold]) for o in outcomes]),
            valid=np.concatenate([o.valid for o in outcomes]),
        )

    @property
    def top1_hit(self) -> np.ndarray:
        return self.top2[:, 0] == self.true

    @property
    def top2_hit(self) -> np.ndarray:
        return (self.top2 == self.true[:, None]).any(axis=1)


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
    rng = np.random.default_rng([seed, 1234])
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
    totals = (sums[rows, pick] * live).sum(axis=(1, 2))
    denoms = (cnts[rows, pick] * live).sum(axis=(1, 2))
    acc = totals / np.maximum(denoms, 1)
    lo, hi = np.percentile(acc, [2.5, 97.5])
    return (float(lo), float(hi))


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


def shot_key(shots: int) -> str:
    """The key results files and boards store one S's metrics under: 4 → "S=4"."""
    return f"S={shots}"


def shots_in(key: str) -> int:
    """The S of one metrics key: "S=4" → 4; the inverse of `shot_key`."""
    digits = key[2:]
    if not (key.startswith("S=") and digits.isascii() and digits.isdigit()):
        raise ValueError(f"{key!r} is not a shot key (expected 'S=<n>', e.g. 'S=4')")
    return int(digits)


def shots_of(metrics: dict[str, Any]) -> list[int]:
    """The S values a metrics mapping ({"S=1": ...}) holds, ascending."""
    return sorted(shots_in(k) for k in metrics)


def accuracy_vs_shots(metrics: dict[str, Any], which: str = "top1") -> list[tuple[int, float, float, float]]:
    """[(S, mean, ci_lo, ci_hi)] ascending in S: one run's accuracy-vs-S curve."""
    out = []
    for s in shots_of(metrics):
        m = metrics[shot_key(s)][which]
        out.append((s, float(m["mean"]), float(m["ci95"][0]), float(m["ci95"][1])))
    return out


def signer_gap(same: dict[str, Any], cross: dict[str, Any], which: str = "top1") -> dict[str, float]:
    """Same-signer minus cross-signer accuracy at every S both metric mappings hold.

    The thesis's headline question: how much accuracy is lost when the test signer was never
    seen in training. Positive = the method does better on signers it trained on.
    """
    common = sorted(set(shots_of(same)) & set(shots_of(cross)))
    return {
        shot_key(s): float(same[shot_key(s)][which]["mean"] - cross[shot_key(s)][which]["mean"])
        for s in common
    }


def confusion_matrix(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted; unpredicted queries are dropped."""
    ok = pred >= 0
    flat = true[ok] * num_classes + pred[ok]
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


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


def confused_pairs(cm: np.ndarray, class_names: list[str], threshold: float = 0.10) -> list[dict]:
    """True→predicted pairs whose share of the true class's queries exceeds `threshold`.

    The share is over all queries of the true class (including unpredicted ones), so a pair at
    0.25 means a quarter of that letter's queries were read as the other letter.
    """
    cm = np.asarray(cm)
    totals = cm.sum(axis=1)
    pairs = []
    for t, p in zip(*np.nonzero(cm)):
        if t != p and totals[t] and cm[t, p] / totals[t] > threshold:
            pairs.append({
                "true": class_names[t],
                "pred": class_names[p],
                "rate": float(cm[t, p] / totals[t]),
                "count": int(cm[t, p]),
            })
    return sorted(pairs, key=lambda d: (-d["rate"], d["true"], d["pred"]))


def _acc(hits: np.ndarray) -> float:
    return float(hits.mean()) if len(hits) else float("nan")


def summarise(pred: Predictions, class_names: list[str], seed: int) -> dict[str, Any]:
    """Everything a results file reports for one S."""
    t1, t2 = pred.top1_hit, pred.top2_hit
    cm = confusion_matrix(pred.true, pred.top2[:, 0], len(class_names))
    per_class_tot = np.bincount(pred.true, minlength=len(class_names))
    out: dict[str, Any] = {
        "n_queries": int(len(t1)),
        "n_episodes": int(len(np.unique(pred.episode))),
        "top1": {"mean": _acc(t1), "ci95": bootstrap_ci(t1, pred.episode, pred.signer, seed)},
        "top2": {"mean": _acc(t2), "ci95": bootstrap_ci(t2, pred.episode, pred.signer, seed)},
        "per_signer": {
            str(s): {
                "top1": _acc(t1[m]),
                "top2": _acc(t2[m]),
                "top1_ci95": bootstrap_ci(t1[m], pred.episode[m], pred.signer[m], seed),
                "n_queries": int(m.sum()),
                "no_detection": int((~pred.valid[m]).sum()),
            }
            for s in np.unique(pred.signer)
            if (m := pred.signer == s).any()
        },
        "per_fold": {
            str(f): {"top1": _acc(t1[m]), "top2": _acc(t2[m]), "n_queries": int(m.sum())}
            for f in np.unique(pred.fold)
            if (m := pred.fold == f).any()
        },
        "per_class": {
            class_names[c]: {
                "top1": float(cm[c, c] / per_class_tot[c]),
                "n_queries": int(per_class_tot[c]),
                "no_detection": int((~pred.valid[pred.true == c]).sum()),
            }
            for c in np.flatnonzero(per_class_tot)
        },
        "confusion": sparse_confusion(cm),
        "confused_pairs": confused_pairs(cm, class_names),
        "no_detection": int((~pred.valid).sum()),
    }
    if not pred.valid.all():
        out["top1_detected_only"] = _acc(t1[pred.valid])
        out["top2_detected_only"] = _acc(t2[pred.valid])
    return out


def main_shots(board: dict[str, Any]) -> int | None:
    """The S a board is ranked at: the largest S every entry reports.

    If no S is shared by all entries, the S reported by the most entries (the largest among
    ties); entries without it rank last.
    """
    entries = board["entries"]
    if not entries:
        return None
    counts: dict[int, int] = {}
    for e in entries:
        for s in shots_of(e["metrics"]):
            counts[s] = counts.get(s, 0) + 1
    best = max(counts.values())
    return max(s for s, n in counts.items() if n == best)
