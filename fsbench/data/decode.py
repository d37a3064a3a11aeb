"""Turning any decoded image into the pixels fsbench stores: upright, 8 bits a channel.

Every image reader goes through here (the prepare builders, `fsbench predict`, the decoded-pixel
cache), so a photo is read the same way wherever it enters. Two things PIL's `convert` gets wrong:

- **Bit depth.** A 16-bit greyscale PNG opens as mode `I;16` (0–65535) and a float TIFF as `F`
  (usually 0–1); `convert("L")` clips both to 0–255, so the first became all white and the second
  all black. They are scaled instead: 16-bit and 32-bit integers by the full range of their depth,
  floats in [0, 1] by 255, other floats by their own minimum and maximum.
- **Orientation.** Phones store a portrait photo sideways with an EXIF Orientation tag; the
  pixels are turned upright (`ImageOps.exif_transpose`) before anything else sees them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

#: single-channel modes holding more than 8 bits a pixel
HIGH_DEPTH = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def upright(im: Image.Image) -> Image.Image:
    """`im` turned as its EXIF Orientation tag says (the tag itself dropped); itself when it has none."""
    return ImageOps.exif_transpose(im) if im.getexif().get(0x0112, 1) != 1 else im


def eight_bit(im: Image.Image) -> Image.Image:
    """A high-depth single-channel image as mode L, its range scaled to 0–255 (not clipped)."""
    a = np.asarray(im, dtype=np.float64)
    if im.mode == "F":
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
        if lo >= 0 and hi <= 1:
            a = a * 255
        elif hi > lo and not (lo >= 0 and hi <= 255):
            a = (a - lo) * (255 / (hi - lo))
    else:  # integers: 16-bit unless a value needs 32
        top = 65535 if im.mode.startswith("I;16") or (a.size and a.max() <= 65535 and a.min() >= 0) else 2**32 - 1
        a = np.clip(a, 0, None) * (255 / top)
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))  # 2-D uint8: mode L


def to_mode(im: Image.Image, mode: str) -> Image.Image:
    """`im` in `mode` (RGB or L) with 8 bits a channel, its bit depth scaled, not clipped."""
    if im.mode in HIGH_DEPTH:
        im = eight_bit(im)
    return im if im.mode == mode else im.convert(mode)
