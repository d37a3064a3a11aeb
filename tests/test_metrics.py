"""Metric numbers on hand-made cases: CIs, confusion counts, confused pairs, curves and gaps."""

from __future__ import annotations

import numpy as np
import pytest

from fsbench.evaluation.metrics import Predictions, confused_pairs, confusion_matrix, summarise
from fsbench.record.shots import accuracy_vs_shots, signer_gap
from fsbench.record.stats import bootstrap_ci, dense_confusion, episode_ci


def test_bootstrap_ci_matches_binomial_on_one_group():
    # 100 one-query episodes, half right: the episode bootstrap ≈ 0.5 ± 1.96·√(.25/100)
    hits = np.r_[np.ones(50), np.zeros(50)]
    lo, hi = bootstrap_ci(hits, np.arange(100), np.zeros(100), seed=0, n_boot=4000)
    assert lo == pytest.approx(0.402, abs=0.02)
    assert hi == pytest.approx(0.598, abs=0.02)


def test_bootstrap_ci_degenerate_and_seeded():
    hits = np.ones(30)
    assert bootstrap_ci(hits, np.arange(30), np.zeros(30), seed=3) == (1.0, 1.0)
    rng = np.random.default_rng(1)
    h = rng.random(200) < 0.6
    ep, g = np.repeat(np.arange(20), 10), np.repeat(np.arange(4), 50)
    assert bootstrap_ci(h, ep, g, seed=7) == bootstrap_ci(h, ep, g, seed=7)
    assert bootstrap_ci(h, ep, g, seed=7) != bootstrap_ci(h, ep, g, seed=8)


def test_bootstrap_ci_resamples_signers():
    # two signers, each perfectly consistent over episodes (100 % vs 0 %): all variance is
    # between signers, so a replicate is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4
    hits = np.r_[np.ones(40), np.zeros(40)]
    episode = np.tile(np.repeat(np.arange(4), 10), 2)
    signer = np.repeat(["a", "b"], 40)
    lo, hi = bootstrap_ci(hits, episode, signer, seed=0)
    assert (lo, hi) == (0.0, 1.0)
    # the same hits as one signer with varying episodes give a narrower interval
    lo1, hi1 = bootstrap_ci(hits, np.repeat(np.arange(8), 10), np.zeros(80), seed=0)
    assert 0.0 < lo1 < 0.5 < hi1 < 1.0


def test_episode_ci_brackets_pooled_accuracy():
    correct, counts = np.array([8, 9, 7, 10, 6]), np.full(5, 10)
    lo, hi = episode_ci(correct, counts, seed=0)
    assert lo <= 0.8 <= hi and lo >= 0.6 and hi <= 1.0


def test_confusion_matrix_counts_and_drops_unpredicted():
    true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 1, -1, 1, 1, 0, 0, 2])
    cm = confusion_matrix(true, pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [2, 0, 1]]


def test_confused_pairs_above_ten_percent_only():
    # class a: 20 queries, 3 read as b (15 %), 2 as c (10 %: not above); class c: 10, 6 as a
    cm = np.array([[15, 3, 2], [0, 10, 0], [6, 0, 4]])
    pairs = confused_pairs(cm, ["a", "b", "c"])
    assert [(p["true"], p["pred"]) for p in pairs] == [("c", "a"), ("a", "b")]
    assert pairs[0]["rate"] == pytest.approx(0.6) and pairs[0]["count"] == 6
    assert pairs[1]["rate"] == pytest.approx(0.15)


def test_summarise_per_signer_class_fold_and_top2():
    true = np.array([0, 1, 2, 0, 1, 2])
    top2 = np.array([[0, 1], [2, 1], [2, 0], [1, 0], [1, 2], [2, 1]])
    pred = Predictions(
        true=true, top2=top2, episode=np.array([0, 0, 0, 1, 1, 1]),
        signer=np.array(["s1"] * 3 + ["s2"] * 3), fold=np.array(["f1"] * 3 + ["f2"] * 3),
        valid=np.ones(6, bool),
    )
    out = summarise(pred, ["a", "b", "c"], seed=0)
    assert out["top1"]["mean"] == pytest.approx(4 / 6)
    assert out["top2"]["mean"] == 1.0
    assert out["per_signer"]["s1"]["top1"] == pytest.approx(2 / 3)
    assert out["per_signer"]["s2"]["top1"] == pytest.approx(2 / 3)
    assert out["per_fold"]["f1"]["n_queries"] == 3
    assert out["per_class"]["a"]["top1"] == 0.5 and out["per_class"]["c"]["top1"] == 1.0
    assert out["confusion"] == {"classes": 3, "cells": [[0, 0, 1], [0, 1, 1], [1, 1, 1], [1, 2, 1], [2, 2, 2]]}
    assert dense_confusion(out["confusion"]).tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 2]]
    lo, hi = out["top1"]["ci95"]
    assert lo <= out["top1"]["mean"] <= hi


def _mc(mean: float) -> dict:
    return {"top1": {"mean": mean, "ci95": [mean - 0.05, mean + 0.05]}}


def test_accuracy_vs_shots_sorted_numerically():
    metrics = {"S=10": _mc(0.9), "S=2": _mc(0.7), "S=1": _mc(0.5)}
    curve = accuracy_vs_shots(metrics)
    assert [c[0] for c in curve] == [1, 2, 10]
    assert curve[1] == pytest.approx((2, 0.7, 0.65, 0.75))


def test_signer_gap_on_common_shots():
    same = {"S=1": _mc(0.9), "S=4": _mc(0.95)}
    cross = {"S=1": _mc(0.6), "S=2": _mc(0.7), "S=4": _mc(0.8)}
    assert signer_gap(same, cross) == pytest.approx({"S=1": 0.3, "S=4": 0.15})
