"""Landmark normalisation: invariant to translation, scale and handedness; sensitive to shape."""

from __future__ import annotations

import numpy as np
import pytest

from fsbench.errors import FsbenchError
from fsbench_mediapipe_landmarks.normalise import MIDDLE_MCP, NormaliseConfig, normalise


def hand(seed: int, n: int = 5) -> np.ndarray:
    """Random but hand-sized (N, 21, 3) landmarks in pixels, wrist near (60, 100)."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(0, 20, size=(n, 21, 3)).astype(np.float32)
    pts[:, 0] = 0
    pts[..., :2] += [60, 100]
    return pts


ALL = np.ones(5, bool)
RIGHT = np.zeros(5, bool)


@pytest.mark.parametrize("scale", ["palm", "bbox"])
@pytest.mark.parametrize("use_z", [True, False])
def test_translation_and_scale_invariance(scale, use_z):
    cfg = NormaliseConfig(scale=scale, use_z=use_z)
    pts = hand(0)
    base = normalise(pts, RIGHT, ALL, cfg)
    moved = pts.copy()
    moved[..., :2] += [37.5, -12.0]  # shift in the image plane
    moved = (moved - moved[:, :1]) * 2.7 + moved[:, :1]  # zoom about the wrist
    assert base.shape == (5, cfg.dim)
    np.testing.assert_allclose(normalise(moved, RIGHT, ALL, cfg), base, atol=1e-5)


def test_mirrored_left_hand_equals_right_hand():
    cfg = NormaliseConfig()
    pts = hand(1)
    mirrored = pts.copy()
    mirrored[..., 0] = 128 - mirrored[..., 0]  # the same hand flipped: a left hand
    np.testing.assert_allclose(normalise(mirrored, ~RIGHT, ALL, cfg), normalise(pts, RIGHT, ALL, cfg), atol=1e-5)
    # without mirroring the two differ, so the test above can fail
    off = NormaliseConfig(mirror=False)
    assert not np.allclose(normalise(mirrored, ~RIGHT, ALL, off), normalise(pts, RIGHT, ALL, off), atol=1e-3)


def test_layout_wrist_origin_unit_palm():
    cfg = NormaliseConfig(scale="palm", use_z=True)
    f = normalise(hand(2), RIGHT, ALL, cfg).reshape(5, 21, 3)
    np.testing.assert_allclose(f[:, 0], 0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(f[:, MIDDLE_MCP], axis=1), 1, atol=1e-5)


def test_shape_changes_features():
    cfg = NormaliseConfig()
    a, b = normalise(hand(3), RIGHT, ALL, cfg), normalise(hand(4), RIGHT, ALL, cfg)
    assert np.abs(a - b).max() > 0.1


def test_no_hand_rows_are_zero_and_degenerate_hands_too():
    pts = hand(5)
    pts[2] = pts[2, :1]  # every landmark on the wrist: no scale
    detected = np.array([True, False, True, True, True])
    f = normalise(pts, RIGHT, detected, NormaliseConfig())
    assert not f[1].any() and not f[2].any()
    assert f[[0, 3, 4]].any(axis=1).all()
    assert np.isfinite(f).all()


def test_unknown_scale_is_a_one_line_error():
    with pytest.raises(FsbenchError, match="scale"):
        NormaliseConfig(scale="wingspan")
