"""Landmarks → features that ignore where the hand is, how big it is, and which hand it is.

Layout of a feature vector (documented in docs/mediapipe-landmarks.md): landmark k's
normalised (x, y, z) at positions 3k, 3k+1, 3k+2 (or (x, y) at 2k, 2k+1 without z), in
MediaPipe's order (0 wrist, 1-4 thumb, 5-8 index, 9-12 middle, 13-16 ring, 17-20 little).

Rotation is deliberately *not* normalised: in fingerspelling, orientation distinguishes letters
(H vs U, G vs Q, P vs K), so it is signal, not nuisance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fsbench.errors import FsbenchError

WRIST, MIDDLE_MCP = 0, 9
SCALES = ("palm", "bbox")
EPS = 1e-6


@dataclass(frozen=True)
class NormaliseConfig:
    """scale: "palm" = wrist→middle-MCP length (stable under finger flexion), "bbox" = the
    longer side of the landmarks' box; mirror: reflect left hands so every hand reads as a
    right hand; use_z: keep MediaPipe's relative depth."""

    scale: str = "palm"
    mirror: bool = True
    use_z: bool = True

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise FsbenchError(f"landmark scale {self.scale!r} is unknown; use one of {', '.join(SCALES)}")

    @property
    def dim(self) -> int:
        return 21 * (3 if self.use_z else 2)


def normalise(xyz: np.ndarray, left: np.ndarray, detected: np.ndarray, config: NormaliseConfig) -> np.ndarray:
    """(N, 21, 3) pixel landmarks → (N, dim) float32 features; rows without a hand are zeros."""
    pts = np.asarray(xyz, np.float64).copy()
    pts -= pts[:, WRIST : WRIST + 1]  # translation: wrist at the origin
    if config.mirror:
        pts[np.asarray(left, bool), :, 0] *= -1  # handedness: left hands become right hands
    dims = 3 if config.use_z else 2
    pts = pts[..., :dims]
    if config.scale == "palm":
        scale = np.linalg.norm(pts[:, MIDDLE_MCP], axis=1)
    else:
        scale = np.ptp(pts[..., :2], axis=1).max(axis=1)
    ok = np.asarray(detected, bool) & (scale > EPS)
    out = np.zeros((len(pts), 21 * dims), np.float32)
    out[ok] = (pts[ok] / scale[ok, None, None]).reshape(-1, 21 * dims)
    return out
