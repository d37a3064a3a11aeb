"""Run one Method over a split's folds and episodes and assemble the results document.

Per fold the method is fitted on the training view only, the test view is embedded once, and
every episode (each S, each repetition) is classified from those cached embeddings: S support
embeddings of the test signer go to a fresh classifier, the rest are queries.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from fsbench import registry
from fsbench.evaluation import fastpath
from fsbench.api import KeepsPrior, MasksInvalid, Method, SignerSplit
from fsbench.data.dataset import DatasetView, FsDataset
from fsbench.device import Placement, out_of_memory, resolve
from fsbench.protocol.devset import development_set
from fsbench.errors import FsbenchError, ProtocolError
from fsbench.evaluation.contract import (
    MethodError, check_classifier, check_embeddings, check_plan, check_request, check_valid_mask, plugin_step, who,
    work_size,
)
from fsbench.evaluation.metrics import Outcome, Predictions, summarise
from fsbench.record.shots import shot_key
from fsbench.cost import RunWork, plan_line
from fsbench.evaluation.work import run_work
from fsbench.progress import progress_bar, say
from fsbench.record.document import provenance
from fsbench.record.types import ResultsDocument
from fsbench.runtime import release_memory, torch_threads, tune_process
from fsbench.api import Episode, EpisodeSpec, Fold
from fsbench.protocol.episodes import SMALL_CLASS_POLICY, episodes_manifest, sample_episodes
from fsbench.protocol.splits import split_manifest


#: the episodes of a run, per S (every fold's, each naming its fold)
Plan = dict[int, list[Episode]]
#: what an out-of-memory on the device tells the user to lower (the trainers name their own key)
FIT_BATCH_KEYS = "the method's batch_size keys (fsbench info METHOD)"
EMBED_BATCH_KEYS = "the method's embedding batch key (embed_batch, or batch_size; fsbench info METHOD)"


@dataclass
class RunRequest:
    method: str
    dataset: str
    split: str
    shots: list[int] = field(default_factory=lambda: [1, 5])
    episodes: int = 10
    seed: int = 0
    ways: int | None = None
    cross_condition: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    dev: bool = False  # run inside the first fold's training rows (fsbench.protocol.devset)
    # where it computes (fsbench.device.resolve on the machine that runs it): None reads FSBENCH_DEVICE,
    # then "auto"; "cpu" in fp32 gives exactly the numbers fsbench gave before it had a device switch
    device: str | None = None
    precision: str = "fp32"
    deterministic: bool = False


def make_method(name: str, config: dict[str, Any]) -> Method:
    plugin = registry.find("methods", name)
    factory = plugin.load()
    try:
        method = factory(config)
    except FsbenchError:
        raise
    except Exception as exc:  # a plugin's own constructor failing: name it, one line
        raise MethodError(f"method {name!r} (distribution {plugin.distribution!r}) failed to start with this "
                          f"config ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from exc
    if not isinstance(method, Method):
        raise MethodError(f"method {name!r} (distribution {plugin.distribution!r}) built a "
                          f"{type(method).__name__}, not a fsbench.api.Method")
    method.distribution = plugin.distribution  # recorded in results
    return method


@dataclass(frozen=True)
class Prepared:
    """Everything a run decides before it trains, checked: what `run` executes and `work_of` counts."""

    method: Method
    split: SignerSplit
    data: FsDataset
    folds: list[Fold]
    plan: Plan
    size: str  # the episodes' size in one line (contract.work_size)
    placement: Placement

    def work(self, seed: int) -> RunWork:
        return run_work(self.method, self.data, self.split.name, self.folds, self.plan, seed, self.size)


def prepare(request: RunRequest, data: FsDataset | None = None) -> Prepared:
    """Method, split, data, folds and episodes of a request; refused here if invalid or too big."""
    from fsbench.data.hub import resolve_dataset

    check_request(request)
    placement = resolve(request.device, request.precision, request.deterministic)
    placement.apply()
    method = make_method(request.method, request.config).place(placement)
    split = registry.get("splits", request.split)()
    data = data if data is not None else resolve_dataset(request.dataset)
    if request.dev:
        data = development_set(data, split, request.seed)
    folds = split.folds(data, request.seed)
    size = work_size(data, folds, request.shots, request.episodes, request.ways)  # refused here if too big
    plan = {
        s: sample_episodes(
            data, folds, EpisodeSpec(s, request.episodes, request.seed, request.ways, request.cross_condition)
        )
        for s in request.shots
    }
    check_plan(plan, data, folds)  # before any training: S larger than every class is refused
    return Prepared(method, split, data, folds, plan, size, placement)


def work_of(request: RunRequest, data: FsDataset | None = None) -> RunWork:
    """What `run(request)` will do, counted without doing it (the sweep's and the demo's plan lines)."""
    return prepare(request, data).work(request.seed)


def run(request: RunRequest, data: FsDataset | None = None, announce: bool = True) -> ResultsDocument:
    """Execute a request end to end and return a results document (not yet written); `announce`
    says its plan and time estimate first (a sweep or the demo says theirs once instead)."""
    tune_process()
    t_start = time.perf_counter()
    prepared = prepare(request, data)
    method, split, data, folds, plan = prepared.method, prepared.split, prepared.data, prepared.folds, prepared.plan
    placement = prepared.placement
    if announce:  # one line before the work: its size, its trainings and the time estimate
        say(plan_line([prepared.work(request.seed)]))
    timings = {"fit_s": 0.0, "embed_s": 0.0, "evaluate_s": 0.0}
    collected: dict[int, list[Outcome]] = {s: [] for s in plan}
    with progress_bar() as bar:
        task = bar.add_task(f"{method.name} on {data.name}/{split.name}", total=len(folds), unit="folds")
        for f_i, fold in enumerate(folds):
            for shots, outcomes in _run_fold(method, data, fold, f_i, plan, timings, request.seed).items():
                collected[shots].extend(outcomes)
            release_memory()
            bar.advance(task)
    results = _assemble(request, method, data, split.name, folds, plan, collected, placement)
    timings["total_s"] = time.perf_counter() - t_start
    results["timings"] = {k: round(v, 3) for k, v in timings.items()}
    results["hardware"]["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return json.loads(json.dumps(results))  # plain JSON types (tuples → lists) for the schema


def _embed(method: Method, view: DatasetView) -> tuple[torch.Tensor, np.ndarray]:
    with plugin_step(method, "embed"), out_of_memory(EMBED_BATCH_KEYS):
        emb = method.embed(view)
    emb = emb.cpu() if isinstance(emb, torch.Tensor) else emb  # the evaluator's matrix work runs on the CPU
    emb = check_embeddings(method, emb, len(view))
    if not isinstance(method, MasksInvalid):
        valid = np.ones(len(view), bool)
    else:
        with plugin_step(method, "valid_mask"):
            mask = method.valid_mask(view)
        valid = check_valid_mask(method, mask, len(view))
    bad = int((~torch.isfinite(emb).all(dim=1) & torch.from_numpy(valid)).sum())
    if bad:  # a diverged model must fail loudly, not score a silently wrong number
        raise MethodError(
            f"{who(method)} returned non-finite embeddings for {bad} images; "
            "its training diverged: lower its learning rate, then re-run"
        )
    return emb, valid


@dataclass(frozen=True)
class FoldEmbeddings:
    """One fold's embeddings, computed once and shared by every episode drawn from it."""

    fold: Fold
    index: int  # the fold's position in the split, as `Episode.fold` names it
    test: torch.Tensor  # (len(fold.test), f), in fold.test's (sorted) order
    test_valid: np.ndarray  # (len(fold.test),) bool: rows the method could embed
    # training rows of the test classes (S = 0, train-signer support, a classifier's prior)
    train: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))
    train_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _run_fold(method: Method, data: FsDataset, fold: Fold, f_i: int, plan: Plan,
              timings: dict[str, float], seed: int) -> dict[int, list[Outcome]]:
    t0 = time.perf_counter()
    with plugin_step(method, "fit"), out_of_memory(FIT_BATCH_KEYS):
        method.fit(data.view(fold.train), seed)
    release_memory()  # training's activations: freed, but resident until trimmed (fsbench.runtime)
    t1 = time.perf_counter()
    test_emb, test_valid = _embed(method, data.view(fold.test))
    emb = FoldEmbeddings(fold, f_i, test_emb, test_valid)
    if 0 in plan or method.support_source == "test-signer+train" or isinstance(_classifier(method), KeepsPrior):
        # the fold's training rows only: the S = 0 support, the joined support or a classifier's prior
        train_rows = fold.train[np.isin(data.labels[fold.train], fold.test_classes)]
        if len(train_rows):  # unseen classes have none
            train_emb, train_valid = _embed(method, data.view(train_rows))
            emb = replace(emb, train=train_emb[train_valid], train_labels=data.labels[train_rows][train_valid])
    t2 = time.perf_counter()
    with torch_threads(1):  # episodes are small memory-bound ops: 2 threads measured 0.6–0.9× of 1
        outcomes = classify_fold(method, data, emb, plan)
    timings["fit_s"] += t1 - t0
    timings["embed_s"] += t2 - t1
    timings["evaluate_s"] += time.perf_counter() - t2
    return outcomes


def classify_fold(method: Method, data: FsDataset, emb: FoldEmbeddings, plan: Plan) -> dict[int, list[Outcome]]:
    """Every episode of `plan` drawn from `emb`'s fold, per S: batched where the classifier allows."""
    batched = fastpath.batchable(_classifier(method))
    outcomes = {}
    for shots, episodes in plan.items():
        fold_eps = [e for e in episodes if e.fold == emb.index]
        if batched and shots > 0 and method.support_source == "test-signer":  # identical, 1.3–3× faster
            outcomes[shots] = fastpath.classify_fold(
                _classifier(method), fold_eps, emb.fold.test, data.labels, emb.test, emb.test_valid)
        else:
            outcomes[shots] = [_classify_episode(method, data, emb, ep) for ep in fold_eps]
    return outcomes


def _classify_episode(method: Method, data: FsDataset, emb: FoldEmbeddings, ep: Episode) -> Outcome:
    """The reference path: a fresh classifier per episode (S = 0, train-signer support, custom rules)."""
    test = emb.fold.test
    s_pos, q_pos = np.searchsorted(test, ep.support), np.searchsorted(test, ep.query)  # test is sorted
    s_keep = s_pos[emb.test_valid[s_pos]]
    support, labels = emb.test[s_keep], data.labels[test[s_keep]]
    clf = _classifier(method)
    prior = isinstance(clf, KeepsPrior)  # it takes the training rows as its prior, so S = 0 is the prior alone
    if (ep.shots == 0 and not prior) or method.support_source == "test-signer+train":
        keep = np.isin(emb.train_labels, ep.classes)
        support = torch.cat([support, emb.train[keep]])
        labels = np.concatenate([labels, emb.train_labels[keep]])
    top2 = np.full((len(q_pos), 2), -1, np.int64)
    q_ok = emb.test_valid[q_pos]
    if (len(support) or prior) and q_ok.any():
        with plugin_step(method, "its classifier"):
            if prior:
                keep = np.isin(emb.train_labels, ep.classes)
                clf = clf.with_prior(emb.train[keep], torch.from_numpy(emb.train_labels[keep]))
            clf = clf.fit(support, torch.from_numpy(labels))
            pred = np.asarray(clf.predict_topk(emb.test[q_pos[q_ok]], 2))
        if pred.ndim != 2 or len(pred) != int(q_ok.sum()) or not 1 <= pred.shape[1] <= 2:
            raise MethodError(f"{who(method)}: its classifier's predict_topk returned shape {pred.shape}, "
                              f"not ({int(q_ok.sum())}, 2)")
        top2[q_ok, : pred.shape[1]] = pred
    return Outcome(ep, data.labels[ep.query], top2, q_ok)


def _classifier(method: Method):
    with plugin_step(method, "make_classifier"):
        clf = method.make_classifier()
    return check_classifier(method, clf)


def _assemble(request: RunRequest, method: Method, data: FsDataset, split_name: str, folds: list[Fold], plan: Plan,
              collected: dict[int, list[Outcome]], placement: Placement) -> dict[str, Any]:
    metrics, episode_rows = {}, []
    for shots, items in collected.items():
        if not items:
            raise ProtocolError(f"no episodes could be drawn at S={shots}")
        pred = Predictions.of(items, [f.name for f in folds])
        metrics[shot_key(shots)] = summarise(pred, data.class_names, request.seed)
        for o in items:
            ep, true, top2 = o.episode, o.true, o.top2
            episode_rows.append({
                "fold": folds[ep.fold].name,
                "signer": ep.signer or "all",
                "shots": shots,
                "index": ep.index,
                "n_query": int(len(true)),
                "top1_correct": int((top2[:, 0] == true).sum()),
                "top2_correct": int((top2 == true[:, None]).any(axis=1).sum()),
                "support_condition": ep.support_condition,
                "capped_classes": ep.capped_classes,
                "dropped_classes": ep.dropped_classes,
            })
    description = method.describe()
    description["distribution"] = method.distribution
    return {
        **provenance(placement),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "method": description,
        "dataset": {
            "name": data.name,
            "revision": data.revision,
            "content_hash": data.content_hash,
            "num_images": len(data),
            "class_names": list(data.class_names),
        },
        "split": {
            "name": split_name,
            "seed": request.seed,
            "manifest_sha256": (m := split_manifest(data, split_name, request.seed, folds))["sha256"],
            "folds": m["folds"],
        },
        "protocol": {
            "shots": list(request.shots),
            "episodes": request.episodes,
            "seed": request.seed,
            "ways": request.ways,
            "cross_condition": request.cross_condition,
            "development": request.dev,
            "small_class_policy": SMALL_CLASS_POLICY,
            "episodes_sha256": {shot_key(s): episodes_manifest(data, eps) for s, eps in plan.items()},
            "capped_classes": {shot_key(s): int(sum(e.capped_classes for e in eps)) for s, eps in plan.items()},
            "dropped_classes": {shot_key(s): int(sum(e.dropped_classes for e in eps)) for s, eps in plan.items()},
        },
        "metrics": metrics,
        "episodes": episode_rows,
    }
