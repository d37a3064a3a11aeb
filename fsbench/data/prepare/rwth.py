"""RWTH German Fingerspelling Database (Dreuw et al. 2006): one frame per video, hand-cropped.

35 gestures (a-z, sch, ä, ö, ü, 1-5) by 20 signers, each signed in two sessions and filmed by
two cameras (cam1: webcam on the dominant hand, cam2: camcorder on the upper body). Following
the thesis (§3.3.1), each video contributes its middle frame only: the signers hold the gesture
still, so neighbouring frames are near-copies. A hand localiser (any `fsbench.backbones` plugin
with the `keypoints` capability) finds the hand, which is cropped square and resized to 64×64.
Videos where it finds no hand are listed in the report's `no_hand` — never dropped silently.

Accepted layout (the naming of the published files): `<signer>_<gesture>_<session>_<camera>.mpg`
anywhere below RAW, e.g. `3_27_2_cam1.mpg`, with gesture ids 1-35 in the database's order
A-Z (1-26), SCH (27), Ä Ö Ü (28-30), 1-5 (31-35). The camera is the `condition` column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from fsbench import registry
from fsbench.api import PoseBackbone
from fsbench.data.builder import DatasetBuilder, PrepareReport, Row, encode_png, rows_with_progress
from fsbench.data.cards import DatasetCard
from fsbench.errors import DatasetError, FsbenchError

CLASSES = (*"abcdefghijklmnopqrstuvwxyz", "sch", "ä", "ö", "ü", "1", "2", "3", "4", "5")
VIDEO_RE = re.compile(
    r"^(?P<signer>\d+)_(?P<gesture>\d+)_(?P<session>\d+)_(?P<camera>cam[12])\.(?:mpg|mpeg|avi|mp4)$",
    re.IGNORECASE,
)
VIDEO_SUFFIXES = {".mpg", ".mpeg", ".avi", ".mp4"}
#: a localiser's keypoint confidence below this everywhere means "no hand"
MIN_CONFIDENCE = 0.3
#: margin around the keypoint box, as a fraction of its longer side
MARGIN = 0.25

CARD = DatasetCard(
    name="rwth",
    title="RWTH German Fingerspelling Database",
    description=(
        "1400 videos of 35 German Sign Language fingerspelling gestures (A-Z, SCH, Ä, Ö, Ü, "
        "1-5) by 20 signers, two sessions each, filmed by a webcam (cam1, dominant hand) and a "
        "camcorder (cam2, upper body) under uncontrolled daylight; one hand crop per video."
    ),
    license="other (freely available for research; cite Dreuw et al. 2006)",
    citation=(
        "P. Dreuw, T. Deselaers, D. Keysers, H. Ney. Modeling Image Variability in "
        "Appearance-Based Gesture Recognition. ECCV Workshop on Statistical Methods in "
        "Multi-Image and Video Processing (SMVP), Graz, 2006, pp. 7-18."
    ),
    classes=CLASSES,
    expected={"classes": 35},
    raw_layout=(
        "RAW/**/<signer>_<gesture>_<session>_<cam1|cam2>.mpg (one video per signer x gesture x "
        "session x camera; gesture ids 1-35 = A-Z, SCH, Ä, Ö, Ü, 1-5)"
    ),
    default_raw="rwth",
    image_size=64,
    condition_column="camera",
    notes=(
        "One frame per video (the middle one, as in the thesis), cropped around the hand found "
        "by a keypoint backbone (default: the first installed backbone plugin that localises "
        "keypoints, preferring 'mediapipe-hands'). Videos without a detected hand are listed in "
        "the prepare report. Signer ids are the file names' numbers; J, Z, Ä, Ö, Ü involve motion "
        "and their middle frame is one moment of it."
    ),
)

Localiser = Callable[[torch.Tensor], torch.Tensor]


def default_localiser() -> PoseBackbone:
    """The installed backbone plugin that can localise hand keypoints."""
    names = registry.names("backbones")
    ordered = sorted(names, key=lambda n: (n != "mediapipe-hands", n))
    for name in ordered:
        try:
            cls = registry.get("backbones", name)
        except FsbenchError:
            continue
        if isinstance(cls, type) and getattr(cls, "keypoints", None) is PoseBackbone.keypoints:
            continue  # declares no keypoint capability
        try:
            backbone = cls()
        except Exception:  # a plugin that needs config is not a default
            continue
        if type(backbone).keypoints is not PoseBackbone.keypoints:
            return backbone
    raise DatasetError(
        "rwth prepare needs a hand localiser: install a backbone plugin with keypoints "
        "(e.g. the 'mediapipe-hands' backbone) or pass localiser= to RWTH(...)"
    )


def middle_frame(path: Path) -> Image.Image:
    """The middle decoded frame of a video (PyAV; frame counts in MPEG headers are unreliable,
    so frames are counted by decoding)."""
    try:
        import av
    except ImportError:
        raise DatasetError(
            "rwth prepare decodes MPEG videos with PyAV; install it with `pip install av`"
        ) from None
    with av.open(str(path)) as container:
        frames = [f for f in container.decode(video=0)]
    if not frames:
        raise ValueError("no video frames")
    return frames[len(frames) // 2].to_image().convert("RGB")


def hand_box(kp: np.ndarray) -> tuple[int, int, int, int] | None:
    """Square crop box (left, top, right, bottom) around confident keypoints, or None."""
    conf = kp[:, 2]
    pts = kp[conf >= MIN_CONFIDENCE, :2]
    if len(pts) == 0:
        return None
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    side = max(x1 - x0, y1 - y0, 8.0) * (1 + 2 * MARGIN)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    return left, top, left + round(side), top + round(side)


class RWTH(DatasetBuilder):
    card: ClassVar[DatasetCard] = CARD

    def __init__(self, *, partial: bool = False, localiser: Any = None) -> None:
        super().__init__(partial=partial)
        self._localiser = localiser

    def features(self) -> dict[str, Any]:
        import datasets

        return {"session": datasets.Value("string")}

    def check_layout(self, raw: Path) -> Path:
        if not raw.is_dir() or not any(
            VIDEO_RE.match(p.name) for p in raw.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES
        ):
            raise self.layout_error(raw, "no <signer>_<gesture>_<session>_<camera>.mpg videos")
        return raw

    def _keypoints(self, frame: Image.Image) -> np.ndarray:
        """(21, 3) keypoints in frame pixels from the localiser (run at its input size)."""
        loc = self._localiser
        size = getattr(loc, "input_size", frame.size[::-1])
        h, w = size
        x = torch.from_numpy(np.asarray(frame.resize((w, h), Image.Resampling.BILINEAR)).copy())
        x = x.permute(2, 0, 1).float().div(255).unsqueeze(0)
        fn = loc.keypoints if hasattr(loc, "keypoints") else loc
        with torch.no_grad():
            kp = fn(x)[0].detach().cpu().numpy().astype(np.float64)
        kp[:, 0] *= frame.size[0] / w
        kp[:, 1] *= frame.size[1] / h
        return kp

    def rows(self, root: Path, report: PrepareReport, strict: bool) -> Iterator[Row]:
        if self._localiser is None:
            self._localiser = default_localiser()
        videos = sorted(p for p in root.rglob("*") if p.is_file())
        yield from rows_with_progress(
            "preparing rwth (middle frames)", videos, lambda p: self._row(root, p, report, strict)
        )

    def _row(self, root: Path, path: Path, report: PrepareReport, strict: bool) -> Row | None:
        rel = path.relative_to(root).as_posix()
        m = VIDEO_RE.match(path.name)
        if m is None or not 1 <= int(m["gesture"]) <= len(CLASSES):
            report.skipped.append({"path": rel, "reason": "not <signer>_<gesture 1-35>_<session>_<cam1|cam2>.mpg"})
            return None
        try:
            frame = middle_frame(path)
        except DatasetError:
            raise
        except Exception as exc:  # PyAV raises its own error family for broken streams
            self.corrupt(report, rel, f"{type(exc).__name__}: {exc}", strict)
            return None
        box = hand_box(self._keypoints(frame))
        if box is None:
            report.no_hand.append(rel)
            return None
        crop = frame.crop(box)  # PIL pads outside the frame with black
        return {
            "id": path.stem.lower(),
            "label": CLASSES[int(m["gesture"]) - 1],
            "signer": str(int(m["signer"])),
            "condition": m["camera"].lower(),
            "session": str(int(m["session"])),
            "image": encode_png(crop, CARD.image_size, "RGB"),
        }
