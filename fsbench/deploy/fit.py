"""Fitting a method on one fold outside a benchmark run: for export, predict and report figures.

The fit goes through the method's own trained-model caches, so right after `fsbench run` with the
same method, config, dataset, split and seed it is a cache hit, not a second training.
"""

from __future__ import annotations

from typing import Any

from fsbench.api import Fold, Method
from fsbench.data.dataset import FsDataset
from fsbench.device import CPU, Placement
from fsbench.errors import FsbenchError, ResultsError


def fit_fold(method_name: str, dataset: str | FsDataset, split: str, fold: int = 0, config: dict[str, Any] | None = None,
             seed: int = 0, placement: Placement = CPU) -> tuple[Method, FsDataset, Fold]:
    """(fitted method, dataset, fold): `method_name` fitted on fold `fold`'s training view, on `placement`."""
    from fsbench import registry
    from fsbench.data.hub import resolve_dataset
    from fsbench.evaluation.runner import make_method
    from fsbench.runtime import tune_process

    tune_process()
    placement.apply()
    method = make_method(method_name, config or {}).place(placement)
    data = dataset if isinstance(dataset, FsDataset) else resolve_dataset(dataset)
    folds = registry.get("splits", split)().folds(data, seed)
    if not 0 <= fold < len(folds):
        raise FsbenchError(f"--fold {fold} is out of range; split {split!r} has folds 0..{len(folds) - 1}")
    method.fit(data.view(folds[fold].train), seed)
    return method, data, folds[fold]


def refit_from_results(results: dict[str, Any], fold: int = 0, dataset: str | None = None,
                       placement: Placement = CPU) -> tuple[Method, FsDataset, Fold]:
    """The method of a results file, refitted from its manifest (method, config, dataset, split,
    seed) on fold `fold`; refused when the dataset's content is no longer what the run used.
    `dataset` says where the data is when the run named a folder path (results record the name)."""
    from fsbench.data.hub import resolve_dataset

    ds = results["dataset"]
    data = resolve_dataset(dataset or ds["name"])
    if data.content_hash != ds["content_hash"]:
        raise ResultsError(
            f"dataset {ds['name']!r} now has content hash {data.content_hash[:12]}… but the results were "
            f"made on {ds['content_hash'][:12]}…; prepare revision {ds['revision']} to refit this method"
        )
    from fsbench import registry

    name = results["method"]["name"]
    config = registry.get("methods", name).stored_config(results["method"]["config"])  # older files: migrated
    return fit_fold(name, data, results["split"]["name"], fold, config, int(results["split"]["seed"]), placement)
