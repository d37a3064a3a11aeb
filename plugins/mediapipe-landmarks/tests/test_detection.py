"""MediaPipe Hands on real annotated hand photos: it finds the hands, roughly where annotated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("mediapipe")
# protobuf 4.25 deprecation noise from inside mediapipe 0.10.14
pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")

from fsbench.data.dataset import to_tensor  # noqa: E402
from fsbench_mediapipe_landmarks.backbone import MediaPipeHands  # noqa: E402


@pytest.fixture(scope="module")
def backbone():
    return MediaPipeHands()


def relative_error(pred: np.ndarray, kp: np.ndarray, bbox: list[float]) -> float:
    vis = kp[:, 2] > 0
    return float(np.linalg.norm(pred[vis, :2] - kp[vis, :2], axis=1).mean() / max(bbox[2], bbox[3]))


def test_keypoints_match_annotations_roughly(backbone, real_hands):
    errors, wrong_image = [], []
    for i, (im, kp, bbox) in enumerate(real_hands):
        out = backbone.keypoints(to_tensor(im[None]))[0].numpy()
        assert out.shape == (21, 3)
        if out[0, 2] == 1:
            errors.append(relative_error(out, kp, bbox))
            other_im, other_kp, other_bbox = real_hands[(i + 3) % len(real_hands)]
            if other_im.shape == im.shape:
                wrong_image.append(relative_error(out, other_kp, other_bbox))
    assert len(errors) >= 8, f"MediaPipe found only {len(errors)} of {len(real_hands)} real hands"
    # measured: OneHand10K 0.03-0.06, FreiHAND ~0.1 of the box's longer side
    assert np.median(errors) < 0.15, errors
    assert np.median(wrong_image) > 2 * np.median(errors)  # the comparison can tell hands apart


def test_no_hand_gives_zero_presence_and_zero_features(backbone):
    blank = torch.zeros(2, 3, 128, 128)
    kp = backbone.keypoints(blank)
    assert torch.all(kp == 0)
    assert torch.all(backbone.features(blank) == 0)
    marks = backbone.landmarks(np.zeros((1, 128, 128, 3), np.uint8))
    assert not marks.detected.any()


def test_features_nearly_mirror_invariant_on_a_real_hand(backbone, real_hands):
    im = real_hands[0][0]  # a OneHand10K photo
    both = to_tensor(np.stack([im, im[:, ::-1].copy()]))
    marks = backbone.landmarks(np.ascontiguousarray((both.permute(0, 2, 3, 1) * 255).round().byte().numpy()))
    assert marks.detected.all()
    assert marks.left[0] != marks.left[1]  # handedness flips with the image
    f = backbone.features(both).numpy()
    other = backbone.features(to_tensor(real_hands[1][0][None])).numpy()[0]
    assert np.abs(f[0] - f[1]).mean() < 0.5 * np.abs(f[0] - other).mean()


def test_fingerprint_tracks_normalisation_and_detector_config():
    a, b = MediaPipeHands(), MediaPipeHands(scale="bbox")
    c = MediaPipeHands(pad=0.0)
    assert len({a.fingerprint(), b.fingerprint(), c.fingerprint()}) == 3
    assert a.fingerprint() == MediaPipeHands().fingerprint()
    assert a.feature_dim == 63 and MediaPipeHands(use_z=False).feature_dim == 42
