"""Frozen backbone features of dataset views: computed once per image, cached on disk.

Every method that reads a frozen backbone goes through `backbone_features`. The cache holds one
row per image of the whole dataset plus a mask of the rows computed so far, keyed by
(backbone fingerprint, dataset content hash, size, mode); a view computes only its missing rows.
Keying by row rather than by view matters because views overlap: the five leave-signer-out
training views of Massey share 75 % of their rows, so a per-view key would run every image
through the backbone five times. A view's fingerprint is its dataset's content hash plus its
rows, so the row key identifies exactly what a view key would.

Only rows a caller asks for are ever decoded or computed, so a method's `fit` still touches
nothing but its training view. Files are written atomically and verified on load; a truncated,
corrupt or foreign file is recomputed, never a traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fsbench.api import PoseBackbone
from fsbench.atomic import write_bytes
from fsbench.data.dataset import DatasetView, Mode
from fsbench.device import out_of_memory
from fsbench.errors import FsbenchError
from fsbench.paths import cache_dir
from fsbench.progress import progress_bar

FORMAT = 1  # bump when the file layout changes: old files are then recomputed


def default_size_mode(backbone: PoseBackbone) -> tuple[int, Mode]:
    """The backbone's square input size, and "L" for one-channel backbones, "RGB" otherwise.

    Decoding straight at the input size lets PIL resample the stored image once (Massey is stored
    at 128 px), instead of decoding small and resizing tensors again inside the backbone.
    """
    height, width = backbone.input_size
    if height != width:
        raise FsbenchError(f"{type(backbone).__name__} declares a non-square input {height}x{width}; pass size=")
    return int(height), "L" if backbone.channels == 1 else "RGB"


def backbone_features(
    backbone: PoseBackbone,
    view: DatasetView,
    *,
    size: int | None = None,
    mode: Mode | None = None,
    batch_size: int | None = None,
    description: str | None = None,
    encode: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """(len(view), feature_dim) float32 features of every image of `view`, in view order.

    `encode` computes the same features faster (e.g. an ONNX Runtime session of the backbone);
    default `backbone.features`. It must agree with it: the cache is keyed by the backbone.
    Batches run on `backbone.placement` (set by `backbone.place`), under its autocast.
    """
    if size is None or mode is None:
        default_size, default_mode = default_size_mode(backbone)
        size, mode = size or default_size, mode or default_mode
    batch_size = batch_size or batch_for(size)
    key = _key(backbone, view, size, mode)
    path = cache_dir("features") / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]}.pt"
    feats, done = _load(path, key) or _empty(len(view.dataset), backbone.feature_dim)
    rows = torch.from_numpy(np.asarray(view.indices, dtype=np.int64))
    todo = torch.unique(rows[~done[rows]])  # sorted: memmap reads run in file order
    if len(todo):
        label = description or f"{type(backbone).__name__} features at {size}px"
        feats[todo] = _compute(backbone, DatasetView(view.dataset, todo.numpy()), size, mode, batch_size, label,
                               encode or backbone.features)
        done[todo] = True
        _merge(_load(path, key), feats, done)  # keep rows another process added meanwhile
        _save(path, key, feats, done)
    return feats[rows]


#: images per batch × pixels per image: 256 images of 64 × 64, the pose net's measured batch
PIXELS_PER_BATCH = 256 * 64 * 64


def batch_for(size: int) -> int:
    """Images per batch at `size` px: a fixed pixel budget, because activations grow with the
    input — 256 images of 224 × 224 held ~3 GB of activations in MediaPipe's hand net; 20 hold
    what 256 of 64 × 64 do (bench/memory.py)."""
    return max(1, min(256, PIXELS_PER_BATCH // (size * size)))


def _key(backbone: PoseBackbone, view: DatasetView, size: int, mode: Mode) -> dict[str, Any]:
    """What the cached features depend on; features computed off the CPU or below fp32 are keyed
    by device type and precision as well (CPU fp32 keys are what they always were)."""
    return {
        "format": FORMAT, "backbone": backbone.fingerprint(), "dataset": view.dataset.content_hash,
        "rows": len(view.dataset), "dim": int(backbone.feature_dim), "size": int(size), "mode": mode,
        **{"placement": part for part in backbone.placement.key_parts()},
    }


def _empty(rows: int, dim: int) -> tuple[Tensor, Tensor]:
    return torch.zeros(rows, dim), torch.zeros(rows, dtype=torch.bool)


@torch.inference_mode()
def _compute(backbone: PoseBackbone, view: DatasetView, size: int, mode: Mode, batch_size: int, label: str,
             encode: Callable[[Tensor], Tensor]) -> Tensor:
    """Features of `view` in batches, with a progress bar; checks the backbone's output shape."""
    out = torch.empty(len(view), backbone.feature_dim)
    start = 0
    where = backbone.placement  # batches go to the backbone's device, features come back to the CPU
    with progress_bar() as bar, out_of_memory("the backbone's input_size option (a batch is PIXELS_PER_BATCH pixels)"):
        task = bar.add_task(label, total=len(view), unit="images")
        for batch in view.tensors(size, mode, batch_size=batch_size):
            with where.autocast():
                f = encode(where.put(batch))
            if tuple(f.shape) != (len(batch), backbone.feature_dim):
                raise FsbenchError(
                    f"{type(backbone).__name__}.features returned {tuple(f.shape)} for {len(batch)} images; "
                    f"expected ({len(batch)}, {backbone.feature_dim})"
                )
            out[start : start + len(batch)] = f.float()
            start += len(batch)
            bar.advance(task, len(batch))
    return out


def _digest(feats: Tensor, done: Tensor) -> str:
    h = hashlib.sha256(feats.numpy().tobytes())
    h.update(done.numpy().tobytes())
    return h.hexdigest()


def _load(path: Path, key: dict[str, Any]) -> tuple[Tensor, Tensor] | None:
    """(features, done mask) from `path` if it exists and is intact and for `key`; else None."""
    if not path.exists():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        feats, done = blob["features"], blob["done"]
        intact = (
            blob["key"] == json.dumps(key, sort_keys=True)
            and feats.dtype == torch.float32 and tuple(feats.shape) == (key["rows"], key["dim"])
            and done.dtype == torch.bool and tuple(done.shape) == (key["rows"],)
            and blob["sha256"] == _digest(feats, done)
        )
    except Exception:  # truncated zip, unpickling error, missing field: all mean "recompute"
        return None
    return (feats, done) if intact else None


def _merge(stored: tuple[Tensor, Tensor] | None, feats: Tensor, done: Tensor) -> None:
    """Copy into (feats, done), in place, the rows that only the file on disk has."""
    if stored is not None:
        theirs = stored[1] & ~done
        feats[theirs] = stored[0][theirs]
        done |= theirs


def _save(path: Path, key: dict[str, Any], feats: Tensor, done: Tensor) -> None:
    """Serialised in memory, then written atomically (`fsbench.atomic`): readers never see half a
    file, and a full disk is a plain OSError naming `path`. torch.save writing to the file itself
    turned ENOSPC into a RuntimeError that was blamed on the method."""
    blob = {"key": json.dumps(key, sort_keys=True), "features": feats, "done": done, "sha256": _digest(feats, done)}
    buf = io.BytesIO()
    torch.save(blob, buf)
    write_bytes(path, buf.getvalue())
