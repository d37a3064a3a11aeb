"""The batched episode path must give exactly what the per-episode loop gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from fsbench.evaluation import fastpath
from fsbench.evaluation import runner as evaluate
from fsbench.evaluation.classifiers import (
    PrototypeClassifier,
    SimilarityClassifier,
    cosine_prototype,
    euclidean_prototype,
    max_rule,
    mean_rule,
    softmax_rule,
)

CLASSIFIERS = {
    "max": lambda: max_rule(1.7, -0.3),
    "max-saturated": lambda: max_rule(9.0, 2.0),  # σ saturates to 1.0: many exact ties
    "mean": lambda: mean_rule(1.3, 0.2),
    "softmax": lambda: softmax_rule(2.0, 0.0),
    "prototype": cosine_prototype,
    "euclid-prototype": euclidean_prototype,
}


def _episodes(rng: np.random.Generator, labels: np.ndarray, n: int):
    """Ragged episodes like the sampler's: capped classes, a 1-class episode, an empty one."""
    sup, sup_lab, qry = [], [], []
    for e in range(n):
        classes = np.unique(labels) if e % 5 else rng.choice(np.unique(labels), 1 + e % 3, replace=False)
        s, q = [], []
        for c in classes:
            rows = rng.permutation(np.flatnonzero(labels == c))
            k = min(1 + e % 4, len(rows) - 1)
            s.append(rows[:k])
            q.append(rows[k:])
        s_all = np.concatenate(s) if e != 7 else np.empty(0, np.int64)
        sup.append(s_all)
        sup_lab.append(labels[s_all])
        qry.append(np.sort(np.concatenate(q)))
    return sup, sup_lab, qry


@pytest.fixture(params=["numba", "torch"])
def engine(request, monkeypatch):
    """Run a test with the numba kernel and again with the torch-only path."""
    if request.param == "numba":
        pytest.importorskip("numba")
    else:
        monkeypatch.setenv("FSBENCH_NUMBA", "0")
    return request.param


@pytest.mark.parametrize("name", list(CLASSIFIERS))
@pytest.mark.parametrize("few_queries", [False, True])  # scores every row / only each episode's queries
def test_batched_topk_equals_the_loop(name, few_queries, engine):
    # embeddings in general position: exact ties between different dot products would be broken
    # by rounding, which differs between BLAS's matrix shapes (the loop's and the batch's)
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 9, 300)
    emb = F.normalize(torch.from_numpy(rng.normal(size=(300, 10))).float(), dim=1)
    sup, sup_lab, qry = _episodes(rng, labels, 40)
    if few_queries:
        qry = [q[::5] for q in qry]
    got = fastpath.pieces(*fastpath.predict_topk_flat(CLASSIFIERS[name](), emb, sup, sup_lab, qry, k=2))
    for s, sl, q, g in zip(sup, sup_lab, qry, got):
        want = np.full((len(q), 2), -1, np.int64)
        if len(s) and len(q):
            pred = CLASSIFIERS[name]().fit(emb[s], torch.from_numpy(sl)).predict_topk(emb[q], 2).numpy()
            want[:, : pred.shape[1]] = pred
        np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("gram", [True, False])
@pytest.mark.parametrize("own_rows", [True, False])
def test_row_scores_match_the_classifier(gram, own_rows):
    rng = np.random.default_rng(0)
    emb = F.normalize(torch.randn(50, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    s, lab = np.arange(12), rng.integers(0, 4, 12)
    lab[:4] = [0, 1, 2, 3]
    grid, occupied, classes = fastpath.support_grid([s], [lab])
    np.testing.assert_array_equal(classes[0], np.arange(4))
    for make in CLASSIFIERS.values():
        clf = make()
        rows = torch.arange(12, 50) if own_rows else torch.arange(50)
        want = clf.fit(emb[s], torch.from_numpy(lab)).scores(emb[rows])
        sc = fastpath.Scoring(emb, emb @ emb.T if gram else None, grid, occupied, rows[None] if own_rows else None)
        got = fastpath.row_scores(clf, sc)[0].T
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_class_positions_equal_torch_unique():
    rng = np.random.default_rng(1)
    rows = [rng.integers(0, 20, rng.integers(1, 15)) for _ in range(30)]
    padded, mask = fastpath.pad(rows, 0)
    pos, classes = fastpath.class_positions(padded, mask)
    for r, p, c in zip(rows, pos, classes):
        uniq, inv = torch.unique(torch.from_numpy(r), return_inverse=True)
        np.testing.assert_array_equal(p[: len(r)], inv.numpy())
        np.testing.assert_array_equal(c[: len(uniq)], uniq.numpy())
        assert (c[len(uniq):] == -1).all() and (p[len(r):] == classes.shape[1]).all()


def test_only_known_classifier_types_are_batched():
    class Custom(SimilarityClassifier):
        def scores(self, queries):
            return -super().scores(queries)

    assert fastpath.batchable(max_rule()) and fastpath.batchable(PrototypeClassifier())
    assert not fastpath.batchable(Custom())


@pytest.mark.parametrize("classifier", ["prototype", "max", "softmax"])
def test_evaluator_results_identical_with_and_without_batching(tiny, monkeypatch, classifier, engine):
    request = evaluate.RunRequest("pixels", "tiny", "leave-signer-out", shots=[0, 1, 3], episodes=6, seed=2,
                                  config={"classifier": classifier})
    fast = evaluate.run(request, data=tiny)
    monkeypatch.setattr(fastpath, "batchable", lambda clf: False)
    slow = evaluate.run(request, data=tiny)
    assert fast["episodes"] == slow["episodes"]
    assert fast["metrics"] == slow["metrics"]


def test_topk_classes_equal_torch_topk_with_ties():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (3, 9, 200), generator=g).float()  # many exact ties
    x[0] = torch.rand(9, 200, generator=g)  # and rows without ties
    for k in (1, 2):
        want = x.transpose(1, 2).topk(k, dim=-1).indices
        torch.testing.assert_close(fastpath.topk_classes(x.clone(), k), want, rtol=0, atol=0)


@pytest.mark.parametrize("slots", [1, 3])
def test_kernel_top2_ranks_like_torch(slots):
    """The fused kernel ranks shift + scale · (slot max) as torch rounds it, and flags every tie."""
    kernels = pytest.importorskip("fsbench.evaluation.kernels")
    pytest.importorskip("numba")
    g = torch.Generator().manual_seed(1)
    e, c, width = 4, 7, 300  # width > one 128-column block
    src = torch.randint(0, 6, (e * c * slots, width), generator=g).float() / 7  # many equal values
    src[:, :150] += torch.rand(e * c * slots, 150, generator=g)  # and columns without ties
    grid = np.arange(e * c * slots).reshape(e, c, slots)
    scale, shift = 1.3**2, -0.2
    cols = np.tile(np.arange(width), e)
    starts = np.arange(e + 1) * width
    top, tied = kernels.top2(src.numpy(), grid, width, scale, shift, cols, starts)
    scores = shift + scale * src.view(e, c, slots, width).amax(dim=2)  # (E, C, W), as row_scores builds it
    ranked = scores.transpose(1, 2).reshape(-1, c)
    values = ranked.topk(3, dim=1).values
    assert np.array_equal(tied, ((values[:, 0] == values[:, 1]) | (values[:, 1] == values[:, 2])).numpy())
    assert 0 < tied.sum() < len(tied)
    want = ranked.topk(2, dim=1).indices.numpy()
    np.testing.assert_array_equal(top[~tied], want[~tied])
