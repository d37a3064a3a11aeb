"""Both methods through the real evaluator on real hands + blank images: no-hand accounting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("mediapipe")
# protobuf 4.25 deprecation noise from inside mediapipe 0.10.14
pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")

from fsbench import registry  # noqa: E402
from fsbench.errors import FsbenchError  # noqa: E402
from fsbench.evaluation.runner import RunRequest, run  # noqa: E402

TINY_HEAD = {"head": {"epochs": 2, "warmup_epochs": 0, "batch_size": 8, "widths": [71], "features": 4, "lr_max": 0.01}}


def test_registered_only_through_entry_points():
    assert {"mediapipe-landmarks", "mediapipe-geometric"} <= set(registry.names("methods"))
    assert "mediapipe-hands" in registry.names("backbones")
    assert registry.find("methods", "mediapipe-landmarks").distribution == "fsbench-mediapipe-landmarks"


def test_valid_mask_marks_the_blank_images(hand_dataset):
    method = registry.get("methods", "mediapipe-geometric")()
    view = hand_dataset.view()
    valid = method.valid_mask(view)
    blank = np.char.endswith(view.ids.astype(str), "-2")
    assert not valid[blank].any()
    assert valid[~blank].sum() >= 8  # most real hands are found at 128 px
    emb = method.embed(view)
    assert emb.shape == (len(view), 63)
    assert torch.all(emb[torch.from_numpy(~valid)] == 0) and torch.all(emb[torch.from_numpy(valid)].abs().sum(1) > 0)


@pytest.mark.parametrize("name, config", [("mediapipe-geometric", {}), ("mediapipe-landmarks", TINY_HEAD)])
def test_no_hand_counts_as_error_and_is_reported(hand_dataset, name, config):
    res = run(RunRequest(name, "hands", "leave-signer-out", shots=[1], episodes=2, config=config), data=hand_dataset)
    m = res["metrics"]["S=1"]
    method = registry.get("methods", name)(config)
    valid = method.valid_mask(hand_dataset.view())
    assert m["no_detection"] > 0
    assert sum(s["no_detection"] for s in m["per_signer"].values()) == m["no_detection"]
    assert sum(c["no_detection"] for c in m["per_class"].values()) == m["no_detection"]
    assert "top1_detected_only" in m
    n_valid = m["n_queries"] - m["no_detection"]
    # invalid queries count as errors: overall top-1 can't beat detected-only top-1 scaled by coverage
    assert m["top1"]["mean"] == pytest.approx(m["top1_detected_only"] * n_valid / m["n_queries"])
    assert (~valid).sum() >= 6  # the 6 blanks, plus any real hand MediaPipe misses
    assert m["no_detection"] <= res["protocol"]["episodes"] * int((~valid).sum())  # each invalid image once per episode at most
    if name == "mediapipe-landmarks":
        assert "learned" in res["method"]


def test_landmarks_method_refuses_training_without_hands(tiny):
    """The core's synthetic bar images hold no hands: a one-line error, not a crash."""
    method = registry.get("methods", "mediapipe-landmarks")(TINY_HEAD)
    with pytest.raises(FsbenchError, match="found a hand in only"):
        method.fit(tiny.view(np.arange(8)), seed=0)


def test_unknown_config_and_classifier_are_rejected():
    with pytest.raises(FsbenchError):
        registry.get("methods", "mediapipe-landmarks")({"classifier": "nearest"})
    with pytest.raises(FsbenchError):
        registry.get("methods", "mediapipe-geometric")({"not_a_key": 1})
