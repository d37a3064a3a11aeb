"""Batched episode classification: hundreds of episodes of one fold in a few tensor ops.

Every episode of a fold draws its support and queries from the same cached test embeddings,
so a batch of episodes is just index arrays into them. When an episode's queries are nearly all
of those embeddings (leave-signer-out), every row is scored: emb·embᵀ is computed once per fold
and an episode's scores are a gather of its support rows; when they are a few (20-way), one
small bmm scores just them. Then a per-class max (or sum) over slots and a top-2 over classes —
in `fsbench.evaluation.kernels` (numba) when installed, which fuses both for the max rule, else in torch:
no Python work per query. Only classifiers whose `scores` this module reproduces op for op are batched
(`SimilarityClassifier`, `PrototypeClassifier`, matched by exact type so a subclass that
changes `scores` is never silently replaced); every other classifier keeps the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from fsbench.evaluation import kernels
from fsbench.api import LowShotClassifier
from fsbench.evaluation.classifiers import PrototypeClassifier, SimilarityClassifier
from fsbench.evaluation.metrics import Outcome

#: elements of the largest (episodes × rows × classes) score tensor built at once (~16 MB fp32)
CHUNK_ELEMENTS = 4_000_000
#: test views up to this many rows share one emb·embᵀ (256 MB at the limit); larger ones
#: compute each support row's dots on demand
GRAM_MAX_ROWS = 8192


@dataclass(frozen=True)
class Scoring:
    """What a chunk of episodes is scored from: the fold's embeddings and the chunk's support grid."""

    emb: Tensor  # (N, f) the test view's embeddings
    dots: Tensor | None  # emb·embᵀ (row r = support r against every row), or None: dots on demand
    grid: np.ndarray  # (E, C, S_max) support rows per class slot (`support_grid`)
    occupied: np.ndarray  # (E, C, S_max) which slots hold a real support row
    cols: Tensor | None = None  # (E, R) the rows each episode scores, or None: every row of emb


class EpisodeRows(NamedTuple):
    """Ragged episodes as row positions into the embeddings, and where each one's queries start
    in the flat (all queries, k) answer."""

    supports: Sequence[np.ndarray]
    labels: Sequence[np.ndarray]
    queries: Sequence[np.ndarray]
    starts: np.ndarray


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


def class_slots(pos: np.ndarray, c_max: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Support → (class, slot) cells of a (C_max, S_max) grid per episode, in support order.

    Returns (cell (E, Ns) = class·S_max + slot, with padded support at −1; filled (E, C_max·S_max)
    = the support index shown in each cell — empty cells repeat their class's first support,
    so a max over a class's row is exact; and S_max).
    """
    e, ns = pos.shape
    order = np.argsort(pos, axis=1, kind="stable")
    srt = np.take_along_axis(pos, order, 1)
    ar = np.broadcast_to(np.arange(ns), (e, ns))
    new = np.ones_like(srt, bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    first = np.maximum.accumulate(np.where(new, ar, 0), axis=1)
    slot_sorted = ar - first
    slot = np.empty_like(slot_sorted)
    np.put_along_axis(slot, order, slot_sorted, 1)
    real = pos < c_max
    s_max = int(slot[real].max(initial=0)) + 1
    cell = np.where(real, pos * s_max + slot, -1)
    filled = np.full((e, c_max * s_max), -1, np.int64)
    rows = np.broadcast_to(np.arange(e)[:, None], (e, ns))
    filled[rows[real], cell[real]] = ar[real]
    head = filled.reshape(e, c_max, s_max)[:, :, :1]
    filled = np.where(filled.reshape(e, c_max, s_max) < 0, head, filled.reshape(e, c_max, s_max)).reshape(e, -1)
    return cell, filled, s_max


def support_grid(
    supports: Sequence[np.ndarray], support_labels: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ragged episodes → grid (E, C, S_max) of support rows, occupied (E, C, S_max), classes (E, C).

    Class c of episode e holds its support rows in slots 0..n_c−1 in support order (the order
    the classifiers sum in); empty slots repeat the class's first row, so a max is exact unmasked.
    """
    s_idx, s_mask = pad(supports, 0)
    s_lab, _ = pad(support_labels, 0)
    pos, classes = class_positions(s_lab, s_mask)
    e, c_max = classes.shape
    cell, filled, s_max = class_slots(pos, c_max)
    grid = np.take_along_axis(s_idx, filled, 1).reshape(e, c_max, s_max)
    occupied = np.zeros(e * c_max * s_max, bool)
    occupied[(np.arange(e)[:, None] * c_max * s_max + cell)[cell >= 0]] = True
    return grid, occupied.reshape(grid.shape), classes


def row_scores(clf: LowShotClassifier, sc: Scoring) -> Tensor:
    """(E, C, R): what `clf.fit(episode support).scores(rows)` gives, transposed.

    The scored rows are every row of `sc.emb` (cols None) or, per episode, the rows `sc.cols`.
    Sums run slot by slot in support order, as the classifiers' own sums do.
    """
    emb, dots, cols = sc.emb, sc.dots, sc.cols
    e, c, s_max = sc.grid.shape
    occ = torch.from_numpy(sc.occupied)
    g = torch.from_numpy(sc.grid)
    if type(clf) is PrototypeClassifier:
        protos = emb[g[:, :, 0]]  # (E, C, f)
        for s in range(1, s_max):
            protos = protos + emb[g[:, :, s]] * occ[:, :, s, None]
        protos = protos / occ.sum(dim=2, keepdim=True)
        if clf.metric == "cosine":  # normalising is per row: the same values, once per row of emb
            unit = F.normalize(emb, dim=1)
            scored = unit.expand(e, -1, -1) if cols is None else unit[cols]  # (E, R, f)
            return torch.bmm(F.normalize(protos, dim=2), scored.transpose(1, 2))
        return -torch.cdist(protos, emb.expand(e, -1, -1) if cols is None else emb[cols]).pow(2)
    assert type(clf) is SimilarityClassifier
    scored_t = emb[cols].transpose(1, 2).contiguous() if cols is not None else None  # (E, f, R)

    def support_dots(rows: Tensor) -> Tensor:  # (E, …) support rows → (E, …, R) dots with the scored rows
        if cols is None:
            return dots[rows] if dots is not None else emb[rows] @ emb.T
        # a few queries each: one small bmm beats gathering single elements out of emb·embᵀ
        return torch.bmm(emb[rows].view(e, -1, emb.shape[1]), scored_t).view(*rows.shape, -1)

    def logits(rows: Tensor) -> Tensor:
        return clf.beta + clf.alpha**2 * support_dots(rows)

    if clf.rule == "max":  # rounding is monotone, so the max commutes with β + α²·x: exact
        best = support_dots(g[:, :, 0])
        for s in range(1, s_max):
            torch.maximum(best, support_dots(g[:, :, s]), out=best)
        out = clf.beta + clf.alpha**2 * best
    elif clf.rule == "mean":
        out = torch.sigmoid(logits(g[:, :, 0]))
        for s in range(1, s_max):
            out = out + torch.sigmoid(logits(g[:, :, s])) * occ[:, :, s, None]
        out = out / occ.sum(dim=2)[..., None]
    else:  # softmax over every support example of the episode, then summed per class
        lg = logits(g).masked_fill(~occ[..., None], -torch.inf)  # (E, C, S, R)
        out = lg.view(e, c * s_max, -1).softmax(dim=1).view(e, c, s_max, -1).sum(dim=2)
    return out


def predict_topk_flat(
    clf: LowShotClassifier,
    emb: Tensor,
    supports: Sequence[np.ndarray],
    support_labels: Sequence[np.ndarray],
    queries: Sequence[np.ndarray],
    k: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Per episode, what `clf.fit(emb[s], labels).predict_topk(emb[q], k)` gives, padded to k with −1,
    as one (all episodes' queries, k) array and each episode's start in it (`pieces` splits it).

    `supports`/`queries` are row positions into `emb`. When an episode's queries are most of
    `emb` (leave-signer-out) every row is scored, sharing one emb·embᵀ; when they are a few
    (20-way unseen-class) only each episode's own queries are.
    """
    q_lens = np.fromiter((len(q) for q in queries), np.int64, len(queries))
    starts = np.concatenate([[0], np.cumsum(q_lens)])
    flat = np.full((starts[-1], k), -1, np.int64)
    live = np.flatnonzero((np.fromiter((len(x) for x in supports), np.int64, len(supports)) > 0) & (q_lens > 0))
    if len(live):
        _predict_live(clf, emb.float().contiguous(), EpisodeRows(supports, support_labels, queries, starts), live, k, flat)
    return flat, starts


def pieces(flat: np.ndarray, starts: np.ndarray) -> list[np.ndarray]:
    """flat[starts[i]:starts[i+1]] for every i: views, without np.split's per-piece overhead."""
    return [flat[a:b] for a, b in zip(starts[:-1].tolist(), starts[1:].tolist())]


def flatten(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged int arrays → (concatenation, starts) — the inverse of `pieces`."""
    lens = np.fromiter((len(a) for a in arrays), np.int64, len(arrays))
    flat = np.concatenate(arrays).astype(np.int64, copy=False) if len(arrays) else np.zeros(0, np.int64)
    return flat, np.concatenate([[0], np.cumsum(lens)])


def _predict_live(clf: LowShotClassifier, emb: Tensor, eps: EpisodeRows, live: np.ndarray, k: int,
                  flat: np.ndarray) -> None:
    """Fill `flat` (all episodes' queries × k) for the episodes in `live`, a chunk at a time."""
    starts, queries = eps.starts, eps.queries
    q_lens = starts[1:] - starts[:-1]
    own_queries = q_lens[live].mean() < 0.5 * len(emb)
    dots = emb @ emb.T if len(emb) <= GRAM_MAX_ROWS and not own_queries else None
    grid, occupied, classes = support_grid([eps.supports[i] for i in live], [eps.labels[i] for i in live])
    n_cls = (classes >= 0).sum(axis=1)
    # topk breaks exact ties (a saturated σ gives many) by position in the row, so a padded
    # class column would change the winner: each chunk holds episodes with one class count
    for c in np.unique(n_cls):
        group = np.flatnonzero(n_cls == c)
        width = int(q_lens[live[group]].max()) if own_queries else len(emb)
        kk = min(k, c)
        use_kernel = kernels_fit(kk, c)
        # the fused max rule builds no score tensor: chunks only bound the bmm of own queries
        fused = use_kernel and is_max_rule(clf) and (own_queries or dots is not None)
        per_episode = width * (c * grid.shape[2] if fused or getattr(clf, "rule", None) == "softmax" else c * 2)
        step = len(group) if fused and not own_queries else max(1, CHUNK_ELEMENTS // per_episode)
        for start in range(0, len(group), step):
            rows = group[start : start + step]
            ids = live[rows]
            lens = q_lens[ids]
            jj = np.repeat(np.arange(len(ids)), lens)  # episode by episode, each one's queries in order
            qq = np.arange(len(jj)) - np.repeat(np.cumsum(lens) - lens, lens)  # index within its episode
            # each query's column in its episode's scores: its own slot, or its row of the test view
            scored = qq if own_queries else np.concatenate([queries[i] for i in ids])
            cols = torch.from_numpy(pad([queries[i] for i in ids], 0)[0]) if own_queries else None
            sc = Scoring(emb, dots, grid[rows, :c], occupied[rows, :c], cols)
            if use_kernel:
                top = kernel_topk(clf, sc, jj, scored, kk)
            else:
                top = topk_classes(row_scores(clf, sc).contiguous(), kk).numpy()[jj, scored]
            labels = np.take(classes[rows, :c].ravel(), jj[:, None] * c + top)
            if (np.diff(ids) == 1).all():  # consecutive episodes fill one slice of `flat`
                flat[starts[ids[0]] : starts[ids[-1] + 1], : top.shape[1]] = labels
            else:
                flat[np.repeat(starts[ids], lens) + qq, : top.shape[1]] = labels


def kernels_fit(k: int, c: int) -> bool:
    """True when `kernels.top2` can rank: numba is there, and a top-1 or top-2 of ≥ k+1 classes."""
    return kernels.available() and k <= 2 and k < c


def is_max_rule(clf: LowShotClassifier) -> bool:
    return type(clf) is SimilarityClassifier and clf.rule == "max"


def kernel_topk(clf: LowShotClassifier, sc: Scoring, episode: np.ndarray, scored: np.ndarray, k: int) -> np.ndarray:
    """(N, k) top-k class positions of N queries (`episode`, `scored` column): `kernels.top2`, exactly.

    The max rule is fused: its scores are read straight from emb·embᵀ (or one bmm of support
    rows against the episode's own queries) and never built; other rules build `row_scores`.
    """
    emb, dots, grid, cols = sc.emb, sc.dots, sc.grid, sc.cols
    e, c, s_max = grid.shape
    if is_max_rule(clf) and (cols is not None or dots is not None):
        if cols is None:  # every row scored: a support's scores are its row of emb·embᵀ
            src, g = dots, grid
        else:  # its own queries each: one bmm of all support rows against them
            src = torch.bmm(emb[torch.from_numpy(grid).view(e, -1)], emb[cols].transpose(1, 2)).view(e * c * s_max, -1)
            g = np.arange(e * c * s_max).reshape(e, c, s_max)
        scale, shift = clf.alpha**2, clf.beta
        exact = lambda en, rn: shift + scale * src[torch.from_numpy(g)[en], rn[:, None, None]].amax(dim=2)  # noqa: E731
    else:
        scores = row_scores(clf, sc).contiguous()
        src, g, scale, shift = scores.view(e * c, -1), np.arange(e * c).reshape(e, c, 1), 1.0, 0.0
        exact = lambda en, rn: scores[en, :, rn]  # noqa: E731
    col_starts = np.searchsorted(episode, np.arange(e + 1))
    top, tied = kernels.top2(src.numpy(), g, src.shape[1], scale, shift, scored, col_starts)
    top = top[:, :k]
    if tied.any():  # equal scores: topk's own tie-breaking is the reference
        t = np.flatnonzero(tied)
        top[t] = exact(torch.from_numpy(episode[t]), torch.from_numpy(scored[t])).topk(k, dim=-1).indices.numpy()
    return top


def topk_classes(scores: Tensor, k: int) -> Tensor:
    """(E, C, N) scores → (E, N, k) `scores.transpose(1, 2).topk(k).indices`, exactly, far faster.

    Reducing over the class axis of an (E, C, N) tensor is a max of C contiguous rows, which
    vectorises; k passes of max give the answer wherever the top k+1 values are strictly
    ordered, and rows with a tie among them (σ saturating at 1.0 makes many) are handed to
    `topk` itself, whose tie-breaking is the reference. `scores` is used as scratch space.
    """
    c = scores.shape[1]
    if k >= c or k > 2:
        return scores.transpose(1, 2).topk(k, dim=-1).indices
    vals, idx = [], []
    for _ in range(k + 1):
        v, i = scores.max(dim=1)
        vals.append(v)
        idx.append(i)
        scores.scatter_(1, i[:, None, :], -torch.inf)
    for v, i in zip(vals, idx):  # undo the scratch writes
        scores.scatter_(1, i[:, None, :], v[:, None, :])
    out = torch.stack(idx[:k], dim=-1)
    tied = torch.zeros_like(vals[0], dtype=torch.bool)
    for a, b in zip(vals[:-1], vals[1:]):
        tied |= a == b
    if tied.any():
        e, n = torch.nonzero(tied, as_tuple=True)
        out[e, n] = scores[e, :, n].topk(k, dim=-1).indices
    return out


def classify_fold(
    clf: LowShotClassifier,
    episodes: Sequence,
    fold_test: np.ndarray,
    labels: np.ndarray,
    test_emb: Tensor,
    test_valid: np.ndarray,
    k: int = 2,
) -> list[Outcome]:
    """The evaluator's outcome of every episode (test-signer support), batched.

    Same contract as the evaluator's per-episode loop: every episode row is in `fold_test`, whose
    order is `test_emb`'s; invalid rows are neither support nor scored queries.
    """
    s_all, s_starts = flatten([ep.support for ep in episodes])
    q_all, q_starts = flatten([ep.query for ep in episodes])
    position = np.zeros(int(fold_test.max(initial=-1)) + 1, np.int64)  # dataset row → position in test_emb
    position[fold_test] = np.arange(len(fold_test))
    s_pos, q_pos = position[s_all], position[q_all]
    s_ok, q_ok = test_valid[s_pos], test_valid[q_pos]
    s_kept = s_pos[s_ok]
    supports, s_labels = (pieces(a, kept_starts(s_ok, s_starts)) for a in (s_kept, labels[fold_test[s_kept]]))
    flat, _ = predict_topk_flat(clf, test_emb, supports, s_labels, pieces(q_pos[q_ok], kept_starts(q_ok, q_starts)), k)
    if q_ok.all():
        topk = flat
    else:
        topk = np.full((len(q_all), k), -1, np.int64)
        topk[q_ok] = flat
    return list(map(Outcome, episodes, pieces(labels[q_all], q_starts), pieces(topk, q_starts), pieces(q_ok, q_starts)))


def kept_starts(keep: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Where each piece of a flat array starts once the entries not in `keep` are dropped."""
    return np.concatenate([[0], np.cumsum(keep)])[starts]
