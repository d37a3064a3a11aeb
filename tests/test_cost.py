"""The cost before the work: a run's work is counted before it starts (folds × trainings ×
episodes), priced by fsbench/cost_model.json, and a long estimate says how to shorten it."""

from __future__ import annotations

import pytest

from fsbench import cost, registry
from fsbench.cost import RunWork, TrainingWork, plan_line
from fsbench.evaluation.runner import RunRequest, prepare, work_of

PRICES = {"step_s": 0.01, "image_s": 0.001, "frozen_image_s": 0.1, "embed_image_s": 0.002, "episode_s": 0.5}


@pytest.fixture
def priced(monkeypatch):
    doc = {"machine": "one core of a test CPU", "startup_s": 5.0,
           "methods": {"m": PRICES, "f/bb": PRICES}}
    monkeypatch.setattr(cost, "model", lambda: doc)
    return doc


def work(trainings, frozen=0, embedded=100, episodes=10, method="m") -> RunWork:
    return RunWork(method, "d/s", len(trainings), trainings, frozen, embedded, episodes, [1, 5])


def test_the_estimate_adds_every_unit_and_skips_cached_folds(priced):
    t = TrainingWork(steps=100, images=1000, what="100 episodes, 4-way", shorten="a shorter training (--set episodes=20)")
    assert cost.estimate(work([t, t])) == pytest.approx(5 + 2 * (1 + 1) + 100 * 0.002 + 10 * 0.5)
    cached = TrainingWork(steps=100, images=1000, cached=True)
    assert cost.estimate(work([t, cached])) == pytest.approx(5 + 2 + 0.2 + 5)
    frozen = TrainingWork(frozen=True, variant="bb")
    assert cost.estimate(work([frozen], frozen=50, embedded=0, method="f")) == pytest.approx(5 + 5 + 5)


def test_the_plan_line_says_what_and_how_long(priced):
    t = TrainingWork(steps=100, images=1000, what="100 episodes, 4-way", shorten="a shorter training (--set episodes=20)")
    line = plan_line([work([t] * 5)])
    assert line.startswith("m on d/s: 5 fold(s), 10 evaluation episodes (S=1, 5) · 1 training per fold (100 episodes, 4-way)")
    assert "estimate ≈ 20 s if nothing is cached (costs measured on one core of a test CPU; an estimate)" in line
    assert "to shorten" not in line


def test_a_long_estimate_says_how_to_shorten_it(priced):
    t = TrainingWork(steps=10_000, images=1_000_000, what="10000 episodes, 60-way",
                     shorten="a shorter training (--set episodes=2000)")
    line = plan_line([work([t] * 5)])
    assert "estimate ≈ 1.5 h" in line
    assert "to shorten it: a shorter training (--set episodes=2000)" in line and "--dev" in line and "--episodes 3" in line


def test_no_price_no_number(priced):
    assert "no time estimate: no measured cost for other" in plan_line([work([TrainingWork()], method="other")])
    assert "no time estimate" in plan_line([work([None])])


def test_methods_count_their_own_training(tiny, tiny_dir):
    pytest.importorskip("fsbench_fewshot_baselines")
    config = {**registry.get("methods", "protonet").test_config, "train_ways": 3}
    request = RunRequest("protonet", str(tiny_dir), "leave-signer-out", [0, 1], 2, 0, config=config)
    w = work_of(request, tiny)
    per_step = 3 * (config["train_shots"] + config["train_queries"])
    assert [(t.steps, t.images) for t in w.trainings] == [(6, 6 * per_step)] * 3  # 3 signers: 3 folds
    plan = prepare(request, tiny).plan
    assert w.folds == 3 and w.episodes == sum(map(len, plan.values())) == 3 + 2 * 3  # S=0: one per signer
    assert w.embedded == len(tiny) + 2 * len(tiny)  # test rows, plus the S=0 support of the training signers
    pixels = work_of(RunRequest("pixels", str(tiny_dir), "leave-signer-out", [1], 2, 0), tiny)
    assert [t.steps for t in pixels.trainings] == [0, 0, 0] and pixels.describe().endswith(" · nothing to train")
    assert "3 fold(s), 3 episode group(s) × 1 S × up to 2 episodes" in pixels.describe()  # the runner's own size line


def test_the_committed_prices_name_installed_methods():
    doc = cost.model()
    assert doc["methods"], "fsbench/cost_model.json is missing: run bench/cost_model.py"
    installed = set(registry.names("methods"))
    for key, price in doc["methods"].items():
        assert key.split("/")[0] in installed, key
        # a fine-tuning recipe with cached views also prices the frozen trunk's passes
        assert set(PRICES) <= set(price) <= {*PRICES, "trunk_image_s"} and all(v >= 0 for v in price.values()), key
