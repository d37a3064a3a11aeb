"""Train-or-load: the one cache of trained models, keyed by everything that changes the weights.

A method names its key material (config, training-view fingerprint, seed, …); the first run
trains and saves {key, meta, state_dict} atomically, later runs load it. A file that does not
load, or was saved under another key, is retrained rather than trusted.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fsbench.api import canonical_hash
from fsbench.atomic import write_with
from fsbench.paths import cache_dir


def cache_key(*parts: Any) -> str:
    """SHA-256 of the canonical JSON of `parts`: equal keys ⇒ equal trained weights."""
    return canonical_hash(list(parts))


def model_path(kind: str, name: str, key: str) -> Path:
    return cache_dir(kind) / f"{name}-{key[:32]}.pt"


def load_model(path: Path, key: str) -> dict[str, Any] | None:
    """The saved {meta, state_dict} when `path` holds a readable checkpoint for `key`, else None."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None
    except Exception:  # truncated or foreign file: retrain and overwrite it
        return None
    if not isinstance(blob, dict) or blob.get("key") != key or "state_dict" not in blob:
        return None
    return blob


def save_model(path: Path, key: str, model: nn.Module, meta: dict[str, Any] | None = None) -> None:
    buf = io.BytesIO()
    torch.save({"key": key, "meta": meta or {}, "state_dict": model.state_dict()}, buf)
    write_with(path, lambda fh: fh.write(buf.getvalue()))


def train_or_load(
    path: Path,
    key: str,
    build: Callable[[dict[str, Any]], nn.Module],
    train: Callable[[nn.Module], dict[str, Any] | None],
    meta: dict[str, Any] | None = None,
    seed: int | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """(model, meta): loaded from `path` when it holds `key`, else `build(meta)` then `train(model)`.

    `train` may return extra meta to save beside the weights (e.g. a learned temperature). With
    `seed`, building and training draw from torch's generator seeded by it (the caller's is left
    as it was), so a (config, view, seed) always starts from the same initial weights.
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return train_or_load(path, key, build, train, meta)
    blob = load_model(path, key)
    if blob is not None:
        model = build(blob["meta"])
        model.load_state_dict(blob["state_dict"])
        return model.eval(), blob["meta"]
    meta = dict(meta or {})
    model = build(meta)
    meta.update(train(model) or {})
    save_model(path, key, model, meta)
    return model.eval(), meta
