"""The landmark cache: detect once per image content, survive interruption, merge chunks."""

from __future__ import annotations

import numpy as np
import pytest

from fsbench_mediapipe_landmarks import store as store_mod
from fsbench_mediapipe_landmarks.detector import Detection
from fsbench_mediapipe_landmarks.store import LandmarkStore, image_key


class FakeDetector:
    """Deterministic stand-in for MediaPipe: 'detects' a hand when the image is bright enough;
    optionally fails after `fail_after` calls, as an interrupted run would."""

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.fail_after = fail_after

    def __call__(self, image: np.ndarray) -> Detection:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        v = float(image.mean())
        xyz = np.full((21, 3), v, np.float32)
        return Detection(xyz, v > 20, bool(int(v) % 2), 0.9 if v > 20 else 0.0)


def images(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 60, size=(n, 16, 16, 3), dtype=np.uint8)


def make(tmp_path, det, chunk=4):
    return LandmarkStore(root=tmp_path, chunk_size=chunk, detector=det, fingerprint="f" * 64)


def test_second_call_is_served_from_cache(tmp_path):
    ims = images(10)
    det = FakeDetector()
    first = make(tmp_path, det).get(ims)
    assert det.calls == 10
    det2 = FakeDetector()
    again = make(tmp_path, det2).get(ims[::-1])
    assert det2.calls == 0
    np.testing.assert_array_equal(again.xyz, first.xyz[::-1])
    np.testing.assert_array_equal(again.detected, first.detected[::-1])


def test_duplicates_are_detected_once_and_order_is_kept(tmp_path):
    ims = images(3)
    batch = np.stack([ims[0], ims[1], ims[0], ims[2], ims[1]])
    det = FakeDetector()
    out = make(tmp_path, det).get(batch)
    assert det.calls == 3
    np.testing.assert_array_equal(out.xyz[0], out.xyz[2])
    assert out.xyz[:, 0, 0].tolist() == [float(np.float32(im.mean())) for im in batch]


def test_resume_after_interruption_redoes_only_missing(tmp_path):
    ims = images(10)
    with pytest.raises(KeyboardInterrupt):
        make(tmp_path, FakeDetector(fail_after=6), chunk=4).get(ims)
    # one full chunk of 4 was written before the interruption; the partial second one was not
    assert len(list(tmp_path.glob("*/*.npz"))) == 1
    assert not list(tmp_path.glob("*/*.tmp*"))
    det = FakeDetector()
    out = make(tmp_path, det, chunk=4).get(ims)
    assert det.calls == 6
    assert out.xyz[:, 0, 0].tolist() == [float(np.float32(im.mean())) for im in ims]


def test_chunks_merge_into_one_file(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "MERGE_AT", 2)
    ims = images(12)
    make(tmp_path, FakeDetector(), chunk=2).get(ims)
    files = list(tmp_path.glob("*/*.npz"))
    assert len(files) == 1 and files[0].name.startswith("merged-")
    det = FakeDetector()
    out = make(tmp_path, det).get(ims)
    assert det.calls == 0 and len(out) == 12


def test_other_detector_config_is_a_different_cache(tmp_path):
    ims = images(4)
    make(tmp_path, FakeDetector()).get(ims)
    det = FakeDetector()
    LandmarkStore(root=tmp_path, detector=det, fingerprint="g" * 64).get(ims)
    assert det.calls == 4


def test_key_depends_on_content_and_shape():
    a = np.zeros((8, 8, 3), np.uint8)
    assert image_key(a) != image_key(np.zeros((4, 16, 3), np.uint8))
    b = a.copy()
    b[0, 0, 0] = 1
    assert image_key(a) != image_key(b) and image_key(a) == image_key(a.copy())
