"""Real annotated hand keypoints in COCO-style JSON (FreiHAND, RHD, Panoptic, OneHand10K).

freihand/panoptic/onehand10k store `keypoints` as a flat list of 63 floats (x, y, v); rhd as
21 nested [x, y, v]. Each annotation becomes a square crop around its bbox (padded by 25 %),
resized to `size`, with keypoints mapped into crop pixels: the 64×64 inputs of Fig 3.1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fsbench.errors import DatasetError
from fsbench.paths import data_root

SOURCES = ("freihand", "rhd", "panoptic", "onehand10k")


@dataclass(frozen=True)
class KeypointSample:
    source: str
    file: str
    image: np.ndarray  # uint8 (size, size, 3)
    keypoints: np.ndarray  # float32 (21, 3): x, y in crop pixels, visibility
    scale: float  # crop pixels per original pixel


def parse_keypoints(raw: list) -> np.ndarray:
    """Flat 63 floats or 21 nested triples → float32 (21, 3)."""
    arr = np.asarray(raw, dtype=np.float32)
    if arr.shape == (63,):
        arr = arr.reshape(21, 3)
    if arr.shape != (21, 3):
        raise DatasetError(f"keypoints have shape {arr.shape}; expected 63 floats or 21×3")
    return arr


def square_crop(bbox: list[float], pad: float = 0.25) -> tuple[float, float, float]:
    """COCO bbox [x, y, w, h] → (x0, y0, side) of a padded square around its centre."""
    x, y, w, h = bbox
    side = max(w, h) * (1 + 2 * pad)
    return x + w / 2 - side / 2, y + h / 2 - side / 2, side


def load_source(source: str, size: int = 64, root: Path | None = None) -> list[KeypointSample]:
    folder = (root or data_root() / "hand-keypoints") / source
    js = folder / f"test_{source}.json"
    if not js.exists():
        raise DatasetError(f"no {js}; set FSBENCH_DATA to the folder holding hand-keypoints/")
    doc = json.loads(js.read_text())
    files = {im["id"]: im["file_name"] for im in doc["images"]}
    out = []
    for ann in doc["annotations"]:
        kp = parse_keypoints(ann["keypoints"])
        x0, y0, side = square_crop(ann["bbox"])
        with Image.open(folder / files[ann["image_id"]]) as im:
            crop = im.convert("RGB").crop((round(x0), round(y0), round(x0 + side), round(y0 + side)))
            crop = crop.resize((size, size), Image.Resampling.BILINEAR)
        scale = size / round(side)
        mapped = kp.copy()
        mapped[:, 0] = (kp[:, 0] - round(x0)) * scale
        mapped[:, 1] = (kp[:, 1] - round(y0)) * scale
        mapped[:, 2] = (kp[:, 2] > 0).astype(np.float32)
        out.append(KeypointSample(source, files[ann["image_id"]], np.asarray(crop), mapped, scale))
    return out


def load_all(size: int = 64, root: Path | None = None) -> list[KeypointSample]:
    """Every annotated hand of the four COCO-style sources."""
    return [s for src in SOURCES for s in load_source(src, size, root)]
