"""Splits and episodes: who trains on what, determinism, machine-independent hashes, policies."""

from __future__ import annotations

import numpy as np
import pytest

from fsbench.errors import ProtocolError
from fsbench.api import EpisodeSpec
from fsbench.protocol.episodes import episodes_manifest, sample_episodes
from fsbench.protocol.splits import (
    LeaveSignerOut,
    SameSigner,
    UnseenClass,
    split_manifest,
)

# Pinned: these change only if the tiny fixture or the sampling code changes. A different value
# on another machine would mean episodes are not reproducible across machines.
TINY_LSO_MANIFEST = "008bb8618054d3f88b240597fbdb348c2db8b2ecb19cbee032442d7ce96ecd75"
TINY_LSO_S2_EPISODES = "19e9a924ca44081057be9b97f83541007f06ea27f607e992adc62cde2deadad6"


def test_leave_signer_out_never_trains_on_the_test_signer(tiny):
    folds = LeaveSignerOut().folds(tiny, seed=0)
    assert [f.test_signers for f in folds] == [("s1",), ("s2",), ("s3",)]
    for fold in folds:
        assert not set(tiny.signers[fold.train]) & set(fold.test_signers)
        assert set(tiny.signers[fold.test]) == set(fold.test_signers)
        assert len(fold.train) + len(fold.test) == len(tiny)


def test_same_signer_holds_out_disjoint_images_of_the_same_signer(tiny):
    folds = SameSigner().folds(tiny, seed=0)
    for fold in folds:
        assert not set(fold.train) & set(fold.test)
        (signer,) = fold.test_signers
        assert signer in set(tiny.signers[fold.train])  # same signer on both sides, by design
        assert len(fold.test) == (tiny.signers == signer).sum() // 2


def test_unseen_class_is_class_disjoint(tiny):
    (fold,) = UnseenClass().folds(tiny, seed=3)
    assert not set(tiny.labels[fold.train]) & set(tiny.labels[fold.test])
    assert set(tiny.labels[fold.test]) == set(fold.test_classes)


def test_hashes_are_pinned_and_stable(tiny):
    folds = LeaveSignerOut().folds(tiny, seed=0)
    manifest = split_manifest(tiny, "leave-signer-out", 0, folds)
    episodes = sample_episodes(tiny, folds, EpisodeSpec(shots=2, episodes=3, seed=0))
    assert manifest["sha256"] == TINY_LSO_MANIFEST
    assert episodes_manifest(tiny, episodes) == TINY_LSO_S2_EPISODES
    again = sample_episodes(tiny, LeaveSignerOut().folds(tiny, seed=0), EpisodeSpec(2, 3, 0))
    assert episodes_manifest(tiny, again) == TINY_LSO_S2_EPISODES
    other = sample_episodes(tiny, folds, EpisodeSpec(shots=2, episodes=3, seed=1))
    assert episodes_manifest(tiny, other) != TINY_LSO_S2_EPISODES


def test_episodes_draw_support_from_the_test_signer_only(tiny):
    folds = LeaveSignerOut().folds(tiny, seed=0)
    for ep in sample_episodes(tiny, folds, EpisodeSpec(shots=2, episodes=4, seed=0)):
        assert set(tiny.signers[ep.support]) == {ep.signer} == set(tiny.signers[ep.query])
        assert not set(ep.support) & set(ep.query)
        assert np.bincount(tiny.labels[ep.support]).tolist() == [2, 2, 2, 2]


def test_small_class_policy_caps_support_and_keeps_a_query(tiny):
    folds = LeaveSignerOut().folds(tiny, seed=0)
    (ep, *_) = sample_episodes(tiny, folds, EpisodeSpec(shots=10, episodes=1, seed=0))
    assert np.bincount(tiny.labels[ep.support]).tolist() == [3, 3, 3, 3]  # 4 images → 3 + 1 query
    assert np.bincount(tiny.labels[ep.query]).tolist() == [1, 1, 1, 1]
    assert ep.capped_classes == 4


def test_zero_shot_has_no_support_and_one_episode(tiny):
    folds = LeaveSignerOut().folds(tiny, seed=0)
    eps = sample_episodes(tiny, folds, EpisodeSpec(shots=0, episodes=5, seed=0))
    assert len(eps) == 3 and all(len(e.support) == 0 for e in eps)
    with pytest.raises(ProtocolError, match="S=0"):
        sample_episodes(tiny, UnseenClass().folds(tiny, 0), EpisodeSpec(0, 1, 0))


def test_cross_condition_support_and_queries_differ_in_condition(tiny):
    folds = LeaveSignerOut().folds(tiny, seed=0)
    for ep in sample_episodes(tiny, folds, EpisodeSpec(1, 4, 0, cross_condition=True)):
        assert set(tiny.conditions[ep.support]) == {ep.support_condition}
        assert ep.support_condition not in set(tiny.conditions[ep.query])


def test_ways_picks_that_many_classes(tiny):
    folds = UnseenClass().folds(tiny, seed=0)
    with pytest.raises(ProtocolError, match="--ways"):
        sample_episodes(tiny, folds, EpisodeSpec(1, 1, 0, ways=99))
