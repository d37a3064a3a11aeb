"""One fused numba kernel for episode classification (optional: `pip install fsbench[fast]`).

Why: classifying a batch of episodes in torch means building an (episodes × classes × rows)
score tensor slot by slot, then three arg-reductions and six scatters over its class axis for
a top-2 — many passes over memory, and torch's arg-reductions run at ~0.3 G elements/s here.
`top2` works per episode on a block of columns that stays in L2: it reads each class's
support-score rows once, takes the max over slots and the top-2 over classes with vectorised
loops, and writes only each query's two classes. Which rows it reads (a gram matrix's support
rows, or a materialised score tensor) is the caller's choice.
"""

from __future__ import annotations

import os

import numpy as np

try:
    import numba
except ImportError:  # the torch path in fsbench.evaluation.fastpath is used instead
    numba = None


def available() -> bool:
    """True when numba is importable and not switched off with FSBENCH_NUMBA=0."""
    return numba is not None and os.environ.get("FSBENCH_NUMBA", "1") != "0"


def _class_scores(src, rows, r0, n, scale, shift, x, y, out) -> None:
    """out[:n] = shift + scale · (max over src[rows] of columns r0 … r0+n)."""
    row = src[rows[0]]  # a whole row is C-contiguous, so loops over it vectorise
    for r in range(n):
        x[r] = row[r0 + r]
    for s in range(1, len(rows)):
        row = src[rows[s]]
        for r in range(n):
            y[r] = row[r0 + r] if row[r0 + r] > x[r] else x[r]
        x, y = y, x
    for r in range(n):
        out[r] = shift + scale * x[r]


def _best_below(t, n, cap, x, y):
    """Per column, the largest class score below `cap` (−inf when none)."""
    x[:n] = -np.inf
    for c in range(t.shape[0]):
        tc = t[c]
        for r in range(n):
            y[r] = tc[r] if (tc[r] > x[r]) & (tc[r] < cap[r]) else x[r]
        x, y = y, x
    return x


def _place(t, n, m, i_a, i_b, n_a, n_b):
    """Per column, the lowest class whose score equals m, and how many classes do."""
    i_a[:n], n_a[:n] = 0, 0
    for c in range(t.shape[0] - 1, -1, -1):
        tc, cc = t[c], np.int32(c)
        for r in range(n):  # one output per loop: few alias checks, so it vectorises
            i_b[r] = cc if tc[r] == m[r] else i_a[r]
        for r in range(n):
            n_b[r] = n_a[r] + np.int32(tc[r] == m[r])
        i_a, i_b, n_a, n_b = i_b, i_a, n_b, n_a
    return i_a, n_a


def _top2(src: np.ndarray, grid: np.ndarray, width: int, scale: float, shift: float,
          cols: np.ndarray, col_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-2 classes of the queries of every episode, from the rows of `src`.

    Episode e's score of class c at column r is shift + scale · max_s src[grid[e, c, s], r], rounded
    as torch rounds `beta + alpha**2 * x` in float32 (a multiply, then an add), so the values
    ranked are the classifier's own. Its queries are columns cols[col_starts[e]:col_starts[e+1]].
    Returns (top (N, 2) int32 class positions, tied (N,): equal scores decide the first or second
    place, where callers defer to torch's top-k). Columns go in blocks that stay in L2, and every
    loop reads some arrays and writes another (ping-pong buffers): the form LLVM vectorises.
    """
    n_ep, n_cls, _ = grid.shape
    blk = 1024
    scale, shift = np.float32(scale), np.float32(shift)
    top = np.empty((len(cols), 2), np.int32)
    tied = np.empty(len(cols), np.bool_)
    ep_top = np.empty((2, width), np.int32)
    ep_tied = np.empty(width, np.bool_)
    t = np.empty((n_cls, blk), np.float32)
    x, y, m1, m2 = (np.empty(blk, np.float32), np.empty(blk, np.float32), np.empty(blk, np.float32),
                    np.empty(blk, np.float32))
    i_a, i_b, n_a, n_b = (np.empty(blk, np.int32), np.empty(blk, np.int32), np.empty(blk, np.int32),
                          np.empty(blk, np.int32))
    no_cap = np.full(blk, np.inf, np.float32)
    for e in range(n_ep):
        for r0 in range(0, width, blk):
            n = min(blk, width - r0)
            for c in range(n_cls):
                _class_scores(src, grid[e, c], r0, n, scale, shift, x, y, t[c])
            m1[:n] = _best_below(t, n, no_cap, x, y)[:n]
            m2[:n] = _best_below(t, n, m1, x, y)[:n]
            i1, n1 = _place(t, n, m1, i_a, i_b, n_a, n_b)
            ep_top[0, r0 : r0 + n] = i1[:n]
            ep_tied[r0 : r0 + n] = n1[:n] > 1
            i2, n2 = _place(t, n, m2, i_a, i_b, n_a, n_b)
            ep_top[1, r0 : r0 + n] = i2[:n]
            ep_tied[r0 : r0 + n] |= n2[:n] > 1
        for j in range(col_starts[e], col_starts[e + 1]):
            r = cols[j]
            top[j, 0], top[j, 1], tied[j] = ep_top[0, r], ep_top[1, r], ep_tied[r]
    return top, tied


if numba is not None:
    _class_scores, _best_below, _place = (numba.njit(f, cache=True, nogil=True) for f in (_class_scores, _best_below, _place))
top2 = numba.njit(cache=True, nogil=True)(_top2) if numba is not None else None
