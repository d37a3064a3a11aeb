"""Episode evaluation throughput on cached embeddings: the per-episode loop vs batched episodes.

    python bench/episodes.py [--quick]

Real folds and episodes — Massey leave-signer-out (36-way, every other image of the test
signer a query: ~800 queries) and Omniglot unseen-class 20-way (~380 queries) at S = 1 and
5 — with synthetic unit embeddings with class structure (f = 10, as hand2vec's): the
classifier cost does not depend on what produced the embeddings. Every path runs in this
process through the evaluator's own `classify_fold`, with one thread as the evaluator runs
it: the per-episode loop (baseline), the batched path in torch alone (FSBENCH_NUMBA=0) and
with the numba kernel (the default when numba is installed); their top-2 predictions must be
identical. "similarities/s" counts query × support pairs, the work the max rule cannot skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from fsbench import registry  # noqa: E402
from fsbench.evaluation import fastpath, kernels  # noqa: E402
from fsbench.evaluation import runner as evaluate  # noqa: E402
from fsbench.data.hub import resolve_dataset  # noqa: E402
from fsbench.runtime import torch_threads  # noqa: E402
from fsbench.api import EpisodeSpec  # noqa: E402
from fsbench.protocol.episodes import sample_episodes  # noqa: E402


class _Method:
    """Just what `classify_fold` asks of a method."""

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


def _run(method, data, fold, f_i, plan, emb, path: str) -> tuple[float, dict]:
    embedded = evaluate.FoldEmbeddings(fold, f_i, emb[fold.test], np.ones(len(fold.test), bool))
    original = fastpath.batchable
    if path == "loop":
        fastpath.batchable = lambda clf: False
    os.environ["FSBENCH_NUMBA"] = "1" if path == "numba" else "0"
    try:
        with torch_threads(1):
            t = common.timeit(lambda: evaluate.classify_fold(method, data, embedded, plan), repeats=3)
            collected = evaluate.classify_fold(method, data, embedded, plan)
    finally:
        fastpath.batchable = original
        os.environ.pop("FSBENCH_NUMBA")
    return t, collected


def _cases(quick: bool):
    """(label, dataset, fold, fold index, episode spec kwargs) of the two episode shapes."""
    for name, split, ways in (("massey", "leave-signer-out", None), ("omniglot", "unseen-class", 20)):
        data = resolve_dataset(name)
        fold = registry.get("splits", split)().folds(data, 0)[0]
        yield f"{name} {ways or 'all'}-way", data, fold, ways


def main() -> None:
    quick = common.quick_flag()
    n_loop, n_fast = (50, 1000) if quick else (200, 5000)
    rows = []
    for case, data, fold, ways in _cases(quick):
        emb = _embeddings(data.labels, data.signers)
        for shots in (1, 5):
            eps = [e for e in sample_episodes(data, [fold], EpisodeSpec(shots, n_fast, 0, ways)) if e.fold == 0]
            n_query = int(np.mean([len(e.query) for e in eps]))
            n_sims = n_query * int(np.mean([len(e.support) for e in eps]))
            for clf in ("max", "prototype"):
                method = _Method(clf)
                t_loop, slow = _run(method, data, fold, 0, {shots: eps[:n_loop]}, emb, "loop")
                loop_eps = n_loop / t_loop
                for path, label in (("loop", "per-episode loop"), ("torch", "batched, torch"),
                                    ("numba", "batched, numba kernel")):
                    if path == "numba" and not kernels.available():
                        continue
                    if path == "loop":
                        eps_s, same, got = loop_eps, True, slow[shots]
                    else:
                        t_fast, fast = _run(method, data, fold, 0, {shots: eps}, emb, path)
                        eps_s, got = len(eps) / t_fast, fast[shots]
                        same = all(np.array_equal(a.top2, b.top2) for a, b in zip(slow[shots], got[:n_loop]))
                    acc = np.mean(np.concatenate([(o.top2[:, 0] == o.true) for o in got]))
                    rows.append({
                        "episodes": case, "path": label, "S": shots, "classifier": clf,
                        "queries/episode": n_query, "episodes/s": round(eps_s, 1),
                        "queries/s": round(eps_s * n_query), "similarities/s": f"{eps_s * n_sims:.2e}",
                        "× loop": round(eps_s / loop_eps, 1), "identical": same, "top-1": round(float(acc), 4),
                    })
    cols = ["episodes", "path", "S", "classifier", "queries/episode", "episodes/s", "queries/s",
            "similarities/s", "× loop", "identical", "top-1"]
    common.show("episode evaluation on cached embeddings (first fold of each split)", rows, cols)
    path = common.write("episodes", rows, {"episodes_loop": n_loop, "episodes_batched": n_fast})
    print(f"peak RSS {common.peak_rss_mb()} MB; wrote {path}")


if __name__ == "__main__":
    main()
