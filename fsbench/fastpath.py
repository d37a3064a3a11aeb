"""Batched episode classification: hundreds of episodes of one fold in a few tensor ops.

Every episode of a fold draws its support and queries from the same cached test embeddings,
so a batch of episodes is just index arrays into them. Padding those to rectangles turns the
per-episode `fit` + `predict_topk` of the evaluator into one gather, one bmm, one
scatter_reduce and one topk per batch: no Python work per query and ~2 µs per episode instead
of ~150 µs. Only classifiers whose `scores` this module reproduces op for op are batched
(`SimilarityClassifier`, `PrototypeClassifier`, matched by exact type so a subclass that
changes `scores` is never silently replaced); every other classifier keeps the loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench.api import LowShotClassifier
from fsbench.classifiers import PrototypeClassifier, SimilarityClassifier

#: elements of the largest (episodes × queries × support) tensor built at once (~64 MB fp32)
CHUNK_ELEMENTS = 16_000_000


def batchable(clf: LowShotClassifier) -> bool:
    """True when `clf`'s scores are reproduced here exactly (same rule, same ops)."""
    return type(clf) in (SimilarityClassifier, PrototypeClassifier)


def pad(arrays: Sequence[np.ndarray], fill: int) -> tuple[np.ndarray, np.ndarray]:
    """Ragged int arrays → (E, L) rectangle padded with `fill`, and its validity mask."""
    lens = np.fromiter((len(a) for a in arrays), np.int64, len(arrays))
    width = int(lens.max(initial=0))
    mask = np.arange(width)[None, :] < lens[:, None]
    out = np.full((len(arrays), width), fill, np.int64)
    if width:
        out[mask] = np.concatenate(arrays).astype(np.int64, copy=False)
    return out, mask


def class_positions(labels: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, what `torch.unique(labels, return_inverse=True)` gives, without a row loop.

    Returns (positions (E, L) with padded entries = C_max, classes (E, C_max) padded with -1).
    """
    sentinel = np.iinfo(np.int64).max
    lab = np.where(mask, labels, sentinel)
    order = np.argsort(lab, axis=1, kind="stable")
    srt = np.take_along_axis(lab, order, 1)
    new = np.take_along_axis(mask, order, 1).copy()
    new[:, 1:] &= srt[:, 1:] != srt[:, :-1]
    rank = np.cumsum(new, axis=1) - 1
    pos = np.empty_like(rank)
    np.put_along_axis(pos, order, rank, 1)
    n_cls = new.sum(axis=1)
    c_max = int(n_cls.max(initial=0))
    classes = np.full((len(lab), c_max), -1, np.int64)
    classes[np.arange(c_max)[None, :] < n_cls[:, None]] = srt[new]
    pos[~mask] = c_max  # a dummy column, dropped after the scatter
    return pos, classes


def batch_scores(clf: LowShotClassifier, q: Tensor, s: Tensor, s_mask: Tensor, pos: Tensor, c_max: int) -> Tensor:
    """(E, Q, f) queries, (E, Ns, f) padded support → (E, Q, C_max) scores as `clf.scores` would give."""
    e, nq, ns = q.shape[0], q.shape[1], s.shape[1]
    index = pos[:, None, :].expand(e, nq, ns)
    if type(clf) is SimilarityClassifier:
        logits = clf.beta + clf.alpha**2 * torch.bmm(q, s.transpose(1, 2))  # (E, Q, Ns)
        out = logits.new_zeros(e, nq, c_max + 1)
        if clf.rule == "max":
            out = out.fill_(-torch.inf).scatter_reduce(2, index, logits, "amax")
            return torch.sigmoid(out[..., :c_max])
        if clf.rule == "mean":
            return out.scatter_reduce(2, index, torch.sigmoid(logits), "mean", include_self=False)[..., :c_max]
        soft = logits.masked_fill(~s_mask[:, None, :], -torch.inf).softmax(dim=2)
        return out.scatter_add(2, index, soft)[..., :c_max]
    assert type(clf) is PrototypeClassifier
    onehot = s.new_zeros(e, c_max + 1, ns).scatter_(1, pos[:, None, :], 1.0)[:, :c_max]  # (E, C, Ns)
    protos = torch.bmm(onehot, s) / onehot.sum(dim=2, keepdim=True).clamp_min(1.0)
    if clf.metric == "cosine":
        return torch.bmm(F.normalize(q, dim=2), F.normalize(protos, dim=2).transpose(1, 2))
    return -torch.cdist(q, protos).pow(2)


def predict_topk_batched(
    clf: LowShotClassifier,
    emb: Tensor,
    supports: Sequence[np.ndarray],
    support_labels: Sequence[np.ndarray],
    queries: Sequence[np.ndarray],
    k: int = 2,
) -> list[np.ndarray]:
    """Per episode, what `clf.fit(emb[s], labels).predict_topk(emb[q], k)` gives, padded to k with −1.

    `supports`/`queries` are row positions into `emb`; an episode without support or queries
    gets all −1 (the evaluator's "no prediction").
    """
    n = len(supports)
    results: list[np.ndarray] = [np.full((len(q), k), -1, np.int64) for q in queries]
    live = [i for i in range(n) if len(supports[i]) and len(queries[i])]
    emb = emb.float()
    # topk breaks exact ties (a saturated σ gives many) by position in the row, so a padded
    # class column would change the winner: each chunk holds episodes with one class count
    n_cls = [len(np.unique(support_labels[i])) for i in live]
    for c in sorted(set(n_cls)):
        group = [i for i, n in zip(live, n_cls) if n == c]
        per = max(len(queries[i]) * len(supports[i]) for i in group)
        step = max(1, CHUNK_ELEMENTS // per)  # bounds the (E, Q, Ns) logits
        for start in range(0, len(group), step):
            _chunk(clf, emb, group[start : start + step], supports, support_labels, queries, k, results)
    return results


def _chunk(clf, emb, ids, supports, support_labels, queries, k, results) -> None:
    s_idx, s_mask = pad([supports[i] for i in ids], 0)
    s_lab, _ = pad([support_labels[i] for i in ids], 0)
    q_idx, q_mask = pad([queries[i] for i in ids], 0)
    pos, classes = class_positions(s_lab, s_mask)
    c_max = classes.shape[1]
    q = emb[torch.from_numpy(q_idx)]
    s = emb[torch.from_numpy(s_idx)] * torch.from_numpy(s_mask)[..., None]  # zero padded rows
    scores = batch_scores(clf, q, s, torch.from_numpy(s_mask), torch.from_numpy(pos), c_max)
    kk = min(k, c_max)
    top = scores.contiguous().topk(kk, dim=2).indices  # (E, Q, kk); every row has exactly c_max classes
    labels = torch.gather(torch.from_numpy(classes)[:, None, :].expand(-1, q.shape[1], -1), 2, top).numpy()
    for j, i in enumerate(ids):
        results[i][:, :kk] = labels[j, : len(queries[i])]


def classify_fold(
    clf: LowShotClassifier,
    episodes: Sequence,
    fold_test: np.ndarray,
    labels: np.ndarray,
    test_emb: Tensor,
    test_valid: np.ndarray,
    k: int = 2,
) -> list[tuple]:
    """The evaluator's (episode, true labels, top-k, valid queries) rows for test-signer support.

    Same contract as the evaluator's per-episode loop: `fold_test` is sorted, so a dataset
    row's position in `test_emb` is a binary search away; invalid rows are neither support
    nor scored queries.
    """
    supports, s_labels, queries, q_oks = [], [], [], []
    for ep in episodes:
        s_pos = np.searchsorted(fold_test, ep.support)
        q_pos = np.searchsorted(fold_test, ep.query)
        s_keep = s_pos[test_valid[s_pos]]
        q_ok = test_valid[q_pos]
        supports.append(s_keep)
        s_labels.append(labels[fold_test[s_keep]])
        queries.append(q_pos[q_ok])
        q_oks.append(q_ok)
    preds = predict_topk_batched(clf, test_emb, supports, s_labels, queries, k)
    rows = []
    for ep, pred, q_ok in zip(episodes, preds, q_oks):
        topk = np.full((len(q_ok), k), -1, np.int64)
        topk[q_ok] = pred
        rows.append((ep, labels[ep.query], topk, q_ok))
    return rows
