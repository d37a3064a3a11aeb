"""Landmarks cached by (image content hash, detector fingerprint), written chunk by chunk.

MediaPipe costs tens of ms per image, so a dataset takes minutes. Each finished chunk is an
atomically written .npz in a folder named by the detector fingerprint (model weights + config);
an interrupted run leaves its finished chunks behind and the next run only detects what is
missing. Once everything is there, many small chunks are merged into one file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fsbench.paths import cache_dir
from fsbench.progress import progress_bar

from fsbench_mediapipe_landmarks.detector import N_LANDMARKS, Detection, DetectorConfig, HandDetector, detector_fingerprint

#: merge chunk files into one once a folder holds more than this many
MERGE_AT = 8


@dataclass
class Landmarks:
    """Batched detections, in the order of the images asked for."""

    xyz: np.ndarray  # float32 (N, 21, 3), zeros where no hand
    detected: np.ndarray  # bool (N,)
    left: np.ndarray  # bool (N,)
    score: np.ndarray  # float32 (N,) handedness confidence, 0 where no hand

    def __len__(self) -> int:
        return len(self.detected)

    @classmethod
    def empty(cls, n: int = 0) -> "Landmarks":
        return cls(np.zeros((n, N_LANDMARKS, 3), np.float32), np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.float32))


def image_key(image: np.ndarray) -> str:
    """Content hash of one uint8 image (shape included, so a resize is a different image)."""
    h = hashlib.sha256(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()[:32]


class LandmarkStore:
    """Detect-once storage for landmarks; `get(images)` returns cached or freshly detected ones."""

    def __init__(
        self,
        config: DetectorConfig | None = None,
        root: Path | None = None,
        chunk_size: int = 64,
        detector: Callable[[np.ndarray], Detection] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.config = config or DetectorConfig()
        self.fingerprint = fingerprint or detector_fingerprint(self.config)
        self.dir = (root or cache_dir("mediapipe")) / self.fingerprint[:20]
        self.chunk_size = chunk_size
        self._detect = detector
        self.detected_now = 0  # images run through MediaPipe by this store (tests, progress)

    def _detector(self) -> Callable[[np.ndarray], Detection]:
        if self._detect is None:
            self._detect = HandDetector(self.config).detect
        return self._detect

    def _chunks(self) -> list[Path]:
        return sorted(self.dir.glob("*.npz")) if self.dir.exists() else []

    def load(self) -> dict[str, tuple[np.ndarray, bool, bool, float]]:
        """Every cached detection, key → (xyz, detected, left, score)."""
        out: dict[str, tuple[np.ndarray, bool, bool, float]] = {}
        for path in self._chunks():
            try:
                with np.load(path) as z:
                    for k, xyz, d, lft, s in zip(z["keys"], z["xyz"], z["detected"], z["left"], z["score"]):
                        out[str(k)] = (xyz, bool(d), bool(lft), float(s))
            except (FileNotFoundError, OSError, ValueError, KeyError):
                continue  # merged away by a concurrent run, or a torn file: re-detect its images
        return out

    def _write(self, keys: list[str], dets: list[Detection], name: str | None = None) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        name = name or f"chunk-{hashlib.sha256(''.join(keys).encode()).hexdigest()[:16]}"
        tmp = self.dir / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.npz"
        np.savez(
            tmp,
            keys=np.array(keys, dtype="<U32"),
            xyz=np.stack([d.xyz for d in dets]).astype(np.float32),
            detected=np.array([d.detected for d in dets], bool),
            left=np.array([d.left for d in dets], bool),
            score=np.array([d.handedness_score for d in dets], np.float32),
        )
        final = self.dir / f"{name}.npz"
        os.replace(tmp, final)
        return final

    def _merge(self) -> None:
        chunks = self._chunks()
        if len(chunks) <= MERGE_AT:
            return
        cached = self.load()
        keys = sorted(cached)
        dets = [Detection(*cached[k]) for k in keys]
        merged = self._write(keys, dets, name=f"merged-{hashlib.sha256(''.join(keys).encode()).hexdigest()[:16]}")
        for path in chunks:
            if path != merged:
                path.unlink(missing_ok=True)

    def get(self, images: np.ndarray, description: str = "MediaPipe Hands") -> Landmarks:
        """Landmarks for uint8 (N, H, W, 3) images; only uncached images are detected."""
        keys = [image_key(im) for im in images]
        cached = self.load()
        todo: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in cached and k not in todo:
                todo[k] = i
        if todo:
            detect = self._detector()
            pending = list(todo.items())
            with progress_bar() as bar:
                task = bar.add_task(f"{description} ({len(cached)} cached)", total=len(pending))
                for start in range(0, len(pending), self.chunk_size):
                    part = pending[start : start + self.chunk_size]
                    dets = [detect(images[i]) for _, i in part]
                    self._write([k for k, _ in part], dets)  # durable before the next chunk starts
                    self.detected_now += len(part)
                    for (k, _), d in zip(part, dets):
                        cached[k] = (d.xyz, d.detected, d.left, d.handedness_score)
                    bar.advance(task, len(part))
            self._merge()
        out = Landmarks.empty(len(keys))
        for i, k in enumerate(keys):
            out.xyz[i], out.detected[i], out.left[i], out.score[i] = cached[k]
        return out
