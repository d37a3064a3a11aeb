"""One MediaPipe Hands call per image, in pixel coordinates of the image it was given.

Why the padding: Massey-style crops fill the frame edge to edge, and MediaPipe's palm detector
misses ~20% of such hands; a black border of 25% per side brings detection to ~99% (measured on
150 Massey images, see docs/mediapipe-landmarks.md). Landmarks are mapped back to the unpadded
image, so callers never see the border.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from fsbench.errors import FsbenchError

N_LANDMARKS = 21
#: the .tflite files behind model_complexity 0 (lite) and 1 (full), relative to the mediapipe package
MODEL_FILES = {
    0: ("modules/palm_detection/palm_detection_lite.tflite", "modules/hand_landmark/hand_landmark_lite.tflite"),
    1: ("modules/palm_detection/palm_detection_full.tflite", "modules/hand_landmark/hand_landmark_full.tflite"),
}
# protobuf 4.25 warns on every result mediapipe 0.10.14 parses; it is mediapipe's to fix, not ours
warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning)
INSTALL_HINT = "pip install mediapipe==0.10.14 (newer wheels ship no hand models)"


class MediaPipeMissingError(FsbenchError):
    """mediapipe is not installed, or is a wheel without the Hands solution and its models."""


def _mediapipe() -> Any:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging floods stderr otherwise
    try:
        import mediapipe as mp
    except ImportError:
        raise MediaPipeMissingError(f"the mediapipe-hands backbone needs mediapipe; {INSTALL_HINT}") from None
    if not hasattr(getattr(mp, "solutions", None), "hands"):
        raise MediaPipeMissingError(
            f"mediapipe {getattr(mp, '__version__', '?')} has no solutions.hands; {INSTALL_HINT}"
        )
    return mp


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that changes what MediaPipe returns for an image (part of the cache key)."""

    pad: float = 0.25
    min_detection_confidence: float = 0.5
    model_complexity: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.pad <= 2:
            raise FsbenchError(f"mediapipe pad {self.pad} is out of range; use a fraction in [0, 2]")
        if not 0 < self.min_detection_confidence <= 1:
            raise FsbenchError(
                f"mediapipe min_detection_confidence {self.min_detection_confidence} must be in (0, 1]"
            )
        if self.model_complexity not in MODEL_FILES:
            raise FsbenchError(f"mediapipe model_complexity {self.model_complexity} is unknown; use 0 or 1")


@cache
def model_version(model_complexity: int = 1) -> str:
    """mediapipe version + SHA-256 of the two .tflite files: the identity of the weights."""
    mp = _mediapipe()
    root = Path(mp.__file__).parent
    h = hashlib.sha256(mp.__version__.encode())
    for rel in MODEL_FILES[model_complexity]:
        path = root / rel
        if not path.exists():
            raise MediaPipeMissingError(f"mediapipe {mp.__version__} lacks {rel}; {INSTALL_HINT}")
        h.update(path.read_bytes())
    return f"mediapipe-{mp.__version__}-{h.hexdigest()[:16]}"


def detector_fingerprint(config: DetectorConfig) -> str:
    blob = f"{model_version(config.model_complexity)}|{sorted(asdict(config).items())}"
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Detection:
    """One image's result. `xyz` is zeros when no hand was found (never NaN: consumers weight
    keypoints by confidence, and NaN·0 is still NaN)."""

    xyz: np.ndarray  # float32 (21, 3): x, y in input pixels; z relative depth in the same pixel units
    detected: bool
    left: bool  # the signer's left hand (MediaPipe's label, which assumes a mirrored selfie, swapped)
    handedness_score: float


class HandDetector:
    """A lazily created `mediapipe.solutions.hands.Hands` in static-image mode (one hand)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._hands: Any = None

    def _solution(self) -> Any:
        if self._hands is None:
            mp = _mediapipe()
            self._hands = mp.solutions.hands.Hands(
                static_image_mode=True,
                max_num_hands=1,
                model_complexity=self.config.model_complexity,
                min_detection_confidence=self.config.min_detection_confidence,
            )
        return self._hands

    def close(self) -> None:
        if self._hands is not None:
            self._hands.close()
            self._hands = None

    def __del__(self) -> None:  # release the MediaPipe graph's threads
        try:
            self.close()
        except Exception:
            pass

    def detect(self, image: np.ndarray) -> Detection:
        """uint8 (H, W, 3) RGB → landmarks in that image's pixels."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise FsbenchError(f"mediapipe-hands needs uint8 (H, W, 3) RGB images, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        p = int(round(self.config.pad * max(h, w)))
        padded = np.pad(image, ((p, p), (p, p), (0, 0))) if p else image
        result = self._solution().process(np.ascontiguousarray(padded))
        if not result.multi_hand_landmarks:
            return Detection(np.zeros((N_LANDMARKS, 3), np.float32), False, False, 0.0)
        pw, ph = padded.shape[1], padded.shape[0]
        lm = result.multi_hand_landmarks[0].landmark
        xyz = np.array([[q.x * pw - p, q.y * ph - p, q.z * pw] for q in lm], dtype=np.float32)
        cls = result.multi_handedness[0].classification[0]
        return Detection(xyz, True, cls.label == "Right", float(cls.score))
