"""A run's work counted before it starts (folds × trainings × episodes), for the plan line that
`fsbench run`, `sweep` and `demo` print first (the prices live in fsbench/cost.py)."""

from __future__ import annotations

import numpy as np

from fsbench.api import Episode, Fold, Method
from fsbench.cost import RunWork, TrainingWork
from fsbench.data.dataset import FsDataset


def run_work(method: Method, data: FsDataset, split: str, folds: list[Fold], plan: dict[int, list[Episode]],
             seed: int, size: str = "") -> RunWork:
    """What running `plan` over `folds` will do; a method's own count failing costs the estimate only."""
    trainings: list[TrainingWork | None] = []
    for fold in folds:
        try:
            trainings.append(method.training_work(data.view(fold.train), seed))
        except Exception:  # noqa: BLE001 - counting must never stop a run; fit reports real errors
            trainings.append(None)
    embedded: list[np.ndarray] = []
    for fold in folds:
        embedded.append(fold.test)
        if 0 in plan or method.support_source == "test-signer+train":
            embedded.append(fold.train[np.isin(data.labels[fold.train], fold.test_classes)])
    frozen, n_embedded = 0, sum(map(len, embedded))
    if any(t is not None and t.frozen for t in trainings):  # features cached per image: each image once
        touched = [*embedded, *(f.train for f, t in zip(folds, trainings) if t is not None and t.frozen_train)]
        frozen, n_embedded = len(np.unique(np.concatenate(touched))), 0
    return RunWork(method.name, f"{data.name}/{split}", len(folds), trainings, frozen, n_embedded,
                   sum(len(eps) for eps in plan.values()), sorted(plan), size)
