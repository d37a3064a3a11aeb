"""Real keypoint JSON loader and the pseudo-labeller's resolution and cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fsbench.api import PoseBackbone
from fsbench.errors import FsbenchError
from fsbench.paths import data_root
from fsbench_hand2vec import pseudolabel
from fsbench_hand2vec.keypoints import load_all, load_source, parse_keypoints

needs_data = pytest.mark.skipif(not (data_root() / "hand-keypoints").exists(), reason="FSBENCH_DATA has no hand-keypoints")


def test_parse_flat_and_nested():
    flat = list(range(63))
    nested = [[3 * i, 3 * i + 1, 3 * i + 2] for i in range(21)]
    np.testing.assert_array_equal(parse_keypoints(flat), parse_keypoints(nested))
    with pytest.raises(FsbenchError):
        parse_keypoints([1, 2, 3])


@needs_data
def test_loader_on_real_files():
    samples = load_all(64)
    assert {s.source: 0 for s in samples}.keys() == {"freihand", "rhd", "panoptic", "onehand10k"}
    assert len(samples) == 8 + 3 + 4 + 4
    for s in samples:
        assert s.image.shape == (64, 64, 3) and s.image.dtype == np.uint8
        vis = s.keypoints[s.keypoints[:, 2] > 0]
        assert len(vis) >= 5
        assert (vis[:, :2] >= 0).all() and (vis[:, :2] < 64).all()  # padded bbox crop holds the hand
    rhd = load_source("rhd", 64)[0]
    assert rhd.file == "00111.png" and rhd.keypoints.shape == (21, 3)


class CountingLabeller(PoseBackbone):
    input_size = (32, 32)
    channels = 3
    feature_dim = 1

    def __init__(self):
        self.calls = 0

    def features(self, images):
        return torch.zeros(len(images), 1)

    def keypoints(self, images):
        self.calls += len(images)
        kp = torch.zeros(len(images), 21, 3)
        kp[..., 0] = images.mean(dim=(1, 2, 3))[:, None] * 32
        kp[..., 2] = 1
        return kp

    def fingerprint(self):
        return "counting-labeller"


def test_pseudo_labels_scaled_and_cached_by_content(tiny):
    view = tiny.view(np.arange(10))
    lab = CountingLabeller()
    first = pseudolabel.pseudo_label(view, lab, size=64)
    assert first.shape == (10, 21, 3) and lab.calls == 10
    again = pseudolabel.pseudo_label(tiny.view(np.arange(12)), lab, size=64)
    assert lab.calls == 12  # only the 2 new images were labelled
    np.testing.assert_allclose(again[:10], first)
    expected = view.images(32).astype(np.float32).mean(axis=(1, 2, 3)) / 255 * 32 * 2
    np.testing.assert_allclose(first[:, 0, 0], expected, rtol=1e-5)


def test_missing_labeller_plugin_is_one_line_error():
    with pytest.raises(FsbenchError) as err:
        pseudolabel.resolve_labeller("mediapipe-hands-not-installed")
    assert "\n" not in str(err.value)
    pseudolabel.PLUGIN_HINT["x-missing"] = "pip install -e plugins/mediapipe-landmarks"
    with pytest.raises(FsbenchError, match="pip install -e plugins/mediapipe-landmarks"):
        pseudolabel.resolve_labeller("x-missing")
