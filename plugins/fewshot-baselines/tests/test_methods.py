"""Each baseline through fit → embed → make_classifier on a tiny real dataset, plus the
caching and determinism promises and one end-to-end run through the core evaluator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fsbench import registry
from fsbench.errors import FsbenchError
from fsbench.evaluation.runner import RunRequest, run
from fsbench.api import EpisodeSpec
from fsbench.protocol.episodes import sample_episodes
from fsbench.protocol.splits import LeaveSignerOut, UnseenClass
from fsbench_fewshot_baselines.base import detect_mode

from fewshot_tiny import TINY, TINY_CLS

CONFIGS = {
    "protonet": TINY, "protonet-joint": TINY, "matchingnet": TINY,
    "finetune": {**TINY_CLS, "finetune_steps": 20}, "supervised-cnn": TINY_CLS,
}


def _accuracy(method, data, fold, shots: int) -> float:
    """Mean query accuracy over two episodes, wired the way the evaluator wires them."""
    test_emb = method.embed(data.view(fold.test))
    hits = total = 0
    for ep in sample_episodes(data, [fold], EpisodeSpec(shots, 2, seed=0)):
        pos = lambda rows: np.searchsorted(fold.test, rows)  # noqa: E731
        support, labels = test_emb[pos(ep.support)], data.labels[ep.support]
        if shots == 0:
            train_rows = fold.train[np.isin(data.labels[fold.train], ep.classes)]
            support, labels = method.embed(data.view(train_rows)), data.labels[train_rows]
        clf = method.make_classifier().fit(support, torch.from_numpy(labels))
        pred = clf.predict_topk(test_emb[pos(ep.query)]).flatten().numpy()
        hits += int((pred == data.labels[ep.query]).sum())
        total += len(ep.query)
    return hits / total


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_method_fits_embeds_and_classifies(tiny, name):
    method = registry.get("methods", name)(CONFIGS[name])
    fold = LeaveSignerOut().folds(tiny, 0)[0]
    method.fit(tiny.view(fold.train), seed=0)
    emb = method.embed(tiny.view(fold.test))
    assert emb.shape[0] == len(fold.test) and torch.isfinite(emb).all()
    if name == "supervised-cnn":
        # the logits themselves: one per class and (characters) per 90° rotation of it
        assert emb.shape[1] == len(tiny.class_names) * 4 == len(tiny.class_names) * method.meta["label_stride"]
    for shots in (0, 1):
        acc = _accuracy(method, tiny, fold, shots)
        assert 0.0 <= acc <= 1.0


def test_trained_models_are_cached_and_deterministic(tiny, tmp_path, monkeypatch):
    fold = LeaveSignerOut().folds(tiny, 0)[1]
    train, test = tiny.view(fold.train), tiny.view(fold.test)
    a = registry.get("methods", "protonet")(TINY)
    a.fit(train, seed=3)
    first = a.embed(test)
    assert a.cache_path.exists()
    mtime = a.cache_path.stat().st_mtime_ns
    b = registry.get("methods", "protonet")(TINY)
    b.fit(train, seed=3)  # a cache hit: same file, not rewritten
    assert b.cache_path == a.cache_path and a.cache_path.stat().st_mtime_ns == mtime
    assert torch.equal(b.embed(test), first)
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "fresh"))  # retrain from scratch
    c = registry.get("methods", "protonet")(TINY)
    c.fit(train, seed=3)
    assert c.cache_path != a.cache_path and torch.equal(c.embed(test), first)
    d = registry.get("methods", "protonet")(TINY)
    d.fit(train, seed=4)
    assert not torch.equal(d.embed(test), first)


def test_eval_only_keys_share_weights_and_training_keys_do_not(tiny):
    fold = LeaveSignerOut().folds(tiny, 0)[0]
    train = tiny.view(fold.train)
    plain, joint = registry.get("methods", "protonet")(TINY), registry.get("methods", "protonet-joint")(TINY)
    plain.fit(train, 0)
    joint.fit(train, 0)
    assert plain.cache_path == joint.cache_path
    cosine = registry.get("methods", "protonet")({**TINY, "metric": "cosine"})
    cosine.fit(train, 0)
    assert cosine.cache_path != plain.cache_path
    ft, sup = registry.get("methods", "finetune")(TINY_CLS), registry.get("methods", "supervised-cnn")(TINY_CLS)
    ft.fit(train, 0)
    sup.fit(train, 0)
    assert ft.cache_path == sup.cache_path  # one trained CNN, two ways of using it


def test_protonet_learns_something_on_unseen_characters(tiny):
    """Trained on 6 characters (and their rotations), it beats chance on 2 never-seen ones."""
    fold = UnseenClass().folds(tiny, 0)[0]
    method = registry.get("methods", "protonet")({**TINY, "episodes": 40, "width": 16})
    method.fit(tiny.view(fold.train), seed=0)
    assert _accuracy(method, tiny, fold, shots=1) > 0.7  # 2-way: chance is 0.5


def test_supervised_cnn_refuses_unseen_classes(tiny):
    fold = UnseenClass().folds(tiny, 0)[0]
    method = registry.get("methods", "supervised-cnn")(TINY_CLS)
    method.fit(tiny.view(fold.train), seed=0)
    with pytest.raises(FsbenchError, match="never trained"):
        _accuracy(method, tiny, fold, shots=1)


def test_embed_before_fit_and_bad_size_are_user_errors(tiny):
    with pytest.raises(FsbenchError, match="fit"):
        registry.get("methods", "matchingnet")(TINY).embed(tiny.view())
    with pytest.raises(FsbenchError, match="size"):
        registry.get("methods", "protonet")({**TINY, "size": 4}).fit(tiny.view(), 0)
    with pytest.raises(FsbenchError, match="backbone"):
        registry.get("methods", "protonet")({**TINY, "backbone": "vgg"}).fit(tiny.view(), 0)


def test_mode_is_detected_from_the_raw_images(tiny):
    assert detect_mode(tiny.view()) == "L"


def test_resnet12_option_trains(tiny):
    cfg = {**TINY, "backbone": "resnet12", "resnet_widths": [8, 8, 8, 8], "episodes": 2}
    method = registry.get("methods", "protonet")(cfg)
    fold = LeaveSignerOut().folds(tiny, 0)[0]
    method.fit(tiny.view(fold.train), 0)
    assert method.embed(tiny.view(fold.test)).shape == (len(fold.test), 8)


def test_end_to_end_through_the_core_evaluator(tiny):
    request = RunRequest(method="protonet-joint", dataset="tiny", split="leave-signer-out",
                         shots=[0, 1], episodes=1, config=TINY)
    results = run(request, tiny)
    assert results["method"]["support_source"] == "test-signer+train"
