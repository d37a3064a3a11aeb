"""Episodes only score what they can: cross-condition classes without support are dropped and counted,
and a dataset that cannot give two conditions is refused before any work (issue 25, cases 7 and 14)."""

from __future__ import annotations

import numpy as np
import pytest

from fsbench.api import EpisodeSpec
from fsbench.data.cards import DatasetCard
from fsbench.data.loader import load_prepared
from fsbench.data.records import PrepareReport
from fsbench.data.store import write_prepared
from fsbench.protocol.episodes import sample_episodes
from fsbench.protocol.splits import LeaveSignerOut
from fsbench.testing import TINY_CLASSES, TINY_SIGNERS, tiny_rows
from harness import fsbench, load, refused


def tiny_with(tmp_path, name: str, condition) -> object:
    """The tiny dataset with each row's condition set by `condition(row)`."""
    rows = tiny_rows()
    for r in rows:
        r["condition"] = condition(r)
    card = DatasetCard(name=name, title=name, description="test", license="CC0", citation="none",
                       classes=TINY_CLASSES, signers=TINY_SIGNERS, raw_layout="synthetic", image_size=24,
                       condition_column="condition")
    write_prepared(rows, tmp_path / name, card, {}, PrepareReport(dataset=name, raw="synthetic"))
    return tmp_path / name


@pytest.fixture
def no_left_a(tmp_path):
    """Signer s1 recorded class 'a' only from the top: an s1 episode supported from 'left' has no 'a'."""
    return tiny_with(tmp_path, "noleft", lambda r: "top" if r["id"].startswith("s1-a-") else r["condition"])


@pytest.mark.parametrize("shots", [1, 2])
def test_cross_condition_queries_only_supported_classes(no_left_a, shots):
    data = load_prepared(no_left_a)
    folds = LeaveSignerOut().folds(data, 0)
    episodes = sample_episodes(data, folds, EpisodeSpec(shots, 20, 0, None, True))
    left_s1 = [ep for ep in episodes if ep.signer == "s1" and ep.support_condition == "left"]
    assert left_s1, "the seed must draw some s1 episodes supported from 'left'"
    for ep in episodes:
        supported = set(data.labels[ep.support].tolist())
        assert set(data.labels[ep.query].tolist()) <= supported, (ep.signer, ep.support_condition)
        assert ep.dropped_classes == len(TINY_CLASSES) - len(ep.classes)
    assert all(ep.dropped_classes == 1 for ep in left_s1)


def test_cross_condition_results_record_dropped_classes(no_left_a, tmp_path):
    out = tmp_path / "xc.json"
    outcome = fsbench("run", "-m", "pixels", "-d", no_left_a, "-s", "leave-signer-out", "--shots", "1",
                      "--episodes", "12", "--cross-condition", "--set", "size=8", "--out", out)
    assert outcome.rc == 0, outcome.err
    doc = load(out)
    rows = doc["episodes"]
    assert doc["protocol"]["dropped_classes"]["S=1"] == sum(r["dropped_classes"] for r in rows) > 0
    assert all(r["dropped_classes"] == (r["signer"] == "s1" and r["support_condition"] == "left") for r in rows)


def test_cross_condition_needs_a_test_signer_with_two_conditions(tmp_path):
    folder = tiny_with(tmp_path, "onecond", lambda r: "top")
    outcome = fsbench("run", "-m", "pixels", "-d", folder, "-s", "leave-signer-out", "--shots", "1",
                      "--episodes", "2", "--cross-condition", "--out", tmp_path / "r.json")
    refused(outcome, "--cross-condition", "no test signer", "two recording conditions", "(found top)")
    assert not (tmp_path / "r.json").exists()


def test_a_signer_with_one_condition_is_queried_nowhere_not_refused(tmp_path):
    """Massey's signers 3 and 4 recorded one condition: the cross-condition board still runs."""
    folder = tiny_with(tmp_path, "onecond", lambda r: "top" if r["signer"] == "s2" else r["condition"])
    outcome = fsbench("run", "-m", "pixels", "-d", folder, "-s", "leave-signer-out", "--shots", "1",
                      "--episodes", "2", "--cross-condition", "--set", "size=8", "--out", tmp_path / "r.json")
    assert outcome.rc == 0, outcome.err
    rows = load(tmp_path / "r.json")["episodes"]
    assert {r["signer"] for r in rows if r["n_query"] == 0} == {"s2"}
    assert all(r["n_query"] > 0 for r in rows if r["signer"] != "s2")


def test_cross_condition_refused_before_the_method_is_fitted(tmp_path, monkeypatch):
    folder = tiny_with(tmp_path, "onecond", lambda r: "top")
    from fsbench.methods.pixels import Pixels

    def fit(self, *args, **kwargs):
        raise AssertionError("fit must not run")

    monkeypatch.setattr(Pixels, "fit", fit)
    refused(fsbench("run", "-m", "pixels", "-d", folder, "-s", "leave-signer-out", "--cross-condition",
                    "--out", tmp_path / "r.json"), "--cross-condition")


def test_same_condition_split_is_unchanged_by_dropping(tiny):
    """Without --cross-condition nothing is dropped and every test class stays in the episode."""
    folds = LeaveSignerOut().folds(tiny, 0)
    for ep in sample_episodes(tiny, folds, EpisodeSpec(2, 3, 0)):
        assert ep.dropped_classes == 0 and len(ep.classes) == len(TINY_CLASSES)
        assert np.isin(tiny.labels[ep.query], ep.classes).all()
