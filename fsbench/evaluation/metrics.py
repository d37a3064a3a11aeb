"""Metrics from per-episode predictions: top-k, per signer/class/fold, bootstrap CIs, confusions.

Inputs are plain numpy arrays so the same functions serve `fsbench run`, the report and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fsbench.deprecated import forward
from fsbench.record.stats import bootstrap_ci, sparse_confusion

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


def confusion_matrix(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted; unpredicted queries are dropped."""
    ok = pred >= 0
    flat = true[ok] * num_classes + pred[ok]
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


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




# moved to fsbench.record (the bottom floor) in 0.1: served with a DeprecationWarning until 0.2.0
__getattr__ = forward(__name__, {
    **dict.fromkeys(("shot_key", "shots_in", "shots_of", "accuracy_vs_shots", "signer_gap", "main_shots"),
                    "fsbench.record.shots"),
    **dict.fromkeys(("episode_ci", "dense_confusion"), "fsbench.record.stats"),
})
