"""`--dev`: tuning runs see only the first fold's training rows and can never be published."""

from __future__ import annotations

import pytest

from fsbench import registry
from fsbench.evaluation import runner as evaluate
from fsbench.protocol.devset import development_set
from fsbench.errors import ProtocolError, ResultsError
from fsbench.boards.leaderboard import publish
from fsbench.record.document import write_results


def test_development_set_is_the_first_folds_training_rows(tiny):
    split = registry.get("splits", "leave-signer-out")()
    fold = split.folds(tiny, 0)[0]
    dev = development_set(tiny, split, 0)
    assert sorted(dev.ids.tolist()) == sorted(tiny.ids[fold.train].tolist())
    assert fold.test_signers[0] not in dev.signer_names
    # labels renumbered 0..K−1 with the names kept
    assert [dev.class_names[k] for k in dev.labels] == [tiny.class_names[k] for k in tiny.labels[fold.train]]
    assert dev.content_hash != tiny.content_hash


def test_unseen_class_dev_set_holds_out_training_classes_only(tiny):
    split = registry.get("splits", "unseen-class")()
    test_classes = {tiny.class_names[c] for c in split.folds(tiny, 0)[0].test_classes}
    dev = development_set(tiny, split, 0)
    assert not test_classes & set(dev.class_names) and len(dev.class_names) == 2
    with pytest.raises(ProtocolError, match="no class left to train on"):  # 2 classes: both held out
        split.folds(dev, 0)


def test_dev_run_is_marked_and_refused_by_publish(tiny, tmp_path):
    request = evaluate.RunRequest("pixels", "tiny", "leave-signer-out", shots=[1], episodes=2, dev=True)
    results = evaluate.run(request, data=tiny)
    assert results["protocol"]["development"] is True
    assert results["dataset"]["name"] == "tiny-dev"
    train_signers = registry.get("splits", "leave-signer-out")().folds(tiny, 0)[0].train_signers
    assert {s for f in results["split"]["folds"] for s in f["test_signers"]} == set(train_signers)
    write_results(tmp_path / "dev.json", results)
    with pytest.raises(ResultsError, match="development run"):
        publish(tmp_path / "dev.json", tmp_path / "boards")
