"""Episode evaluation throughput on cached embeddings: the per-episode loop vs batched episodes.

    python bench/episodes.py [--quick]

Real Massey folds and episodes (leave-signer-out, S = 1 and 5, every class), synthetic unit
embeddings with class structure (f = 10, as hand2vec's): the classifier cost does not depend
on what produced the embeddings. Both paths run in this process through the evaluator's own
`_classify_fold`; their top-2 predictions must be identical.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from fsbench import evaluate, fastpath, registry  # noqa: E402
from fsbench.data.hub import resolve_dataset  # noqa: E402
from fsbench.runtime import torch_threads  # noqa: E402
from fsbench.splits import EpisodeSpec, sample_episodes  # noqa: E402


class _Method:
    """Just what `_classify_fold` asks of a method."""

    support_source = "test-signer"

    def __init__(self, name: str) -> None:
        self.name = name

    def make_classifier(self):
        return registry.get("classifiers", self.name)(**({"alpha": 2.0, "beta": -1.0} if self.name in ("max", "mean", "softmax") else {}))


def _embeddings(labels: np.ndarray, signers: np.ndarray, f: int = 10) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    cls = torch.randn(labels.max() + 1, f, generator=g)
    _, sig = np.unique(signers, return_inverse=True)
    shift = torch.randn(sig.max() + 1, f, generator=g) * 0.5  # a signer-specific offset
    x = cls[labels] + shift[sig] + torch.randn(len(labels), f, generator=g) * 0.8
    return F.normalize(x, dim=1)


def _run(method, data, fold, f_i, plan, emb, batched: bool) -> tuple[float, dict]:
    test_emb, valid = emb[fold.test], np.ones(len(fold.test), bool)
    collected = {s: [] for s in plan}
    original = fastpath.batchable
    if not batched:
        fastpath.batchable = lambda clf: False
    try:
        with torch_threads(1):
            t = common.timeit(lambda: evaluate._classify_fold(method, data, fold, f_i, plan, {s: [] for s in plan},
                                                              test_emb, valid, None, None), repeats=3)
            evaluate._classify_fold(method, data, fold, f_i, plan, collected, test_emb, valid, None, None)
    finally:
        fastpath.batchable = original
    return t, collected


def main() -> None:
    quick = common.quick_flag()
    data = resolve_dataset("massey")
    folds = registry.get("splits", "leave-signer-out")().folds(data, 0)
    fold, f_i = folds[0], 0
    n_loop, n_fast = (50, 500) if quick else (200, 4000)
    emb = _embeddings(data.labels, data.signers)
    rows = []
    for shots in (1, 5):
        eps = [e for e in sample_episodes(data, [fold], EpisodeSpec(shots, n_fast, 0)) if e.fold == f_i]
        n_query = int(np.mean([len(e.query) for e in eps]))
        for clf in ("max", "prototype"):
            method = _Method(clf)
            t_loop, slow = _run(method, data, fold, f_i, {shots: eps[:n_loop]}, emb, batched=False)
            t_fast, fast = _run(method, data, fold, f_i, {shots: eps}, emb, batched=True)
            same = all(np.array_equal(a[2], b[2]) for a, b in zip(slow[shots], fast[shots][:n_loop]))
            acc = np.mean(np.concatenate([(p[:, 0] == t) for _, t, p, _ in fast[shots]]))
            loop_eps, fast_eps = n_loop / t_loop, len(eps) / t_fast
            for path, eps_s in (("per-episode loop", loop_eps), ("batched (fastpath)", fast_eps)):
                rows.append({
                    "path": path, "S": shots, "classifier": clf, "queries/episode": n_query,
                    "episodes/s": round(eps_s, 1), "queries/s": round(eps_s * n_query),
                    "× loop": round(eps_s / loop_eps, 1), "identical": same, "top-1": round(float(acc), 4),
                })
    cols = ["path", "S", "classifier", "queries/episode", "episodes/s", "queries/s", "× loop", "identical", "top-1"]
    common.show("episode evaluation on cached embeddings (Massey fold signer=1, 1 thread)", rows, cols)
    path = common.write("episodes", rows, {"fold": fold.name, "episodes_loop": n_loop, "episodes_batched": n_fast})
    print(f"peak RSS {common.peak_rss_mb()} MB; wrote {path}")


if __name__ == "__main__":
    main()
