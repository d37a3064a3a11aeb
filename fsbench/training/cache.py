"""Train-or-load: the one cache of trained models, keyed by everything that changes the weights.

A method names its key material (config, training-view fingerprint, seed, …); `cache_key` adds
what the run's compute changes: torch's intra-op thread count (a different count sums in another
order: weights differ by up to 0.009), the device and the precision. The first run trains and
saves {key, meta, state_dict, sha256} atomically, later runs load it. A file that does not load,
was saved under another key, or whose SHA-256 over key, meta and weights does not match (a
damaged or edited checkpoint) is retrained rather than trusted, like the pixel and feature caches.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fsbench.api import canonical_hash
from fsbench.atomic import write_with
from fsbench.paths import cache_dir
from fsbench.progress import console


def compute(threads: int = 0, device: str = "cpu", precision: str = "float32") -> dict[str, Any]:
    """What besides the recipe decides trained weights: torch's intra-op threads (0: the count in
    effect now, as `fsbench.runtime.torch_threads(0)` keeps it), the device and the precision."""
    return {"threads": int(threads) or torch.get_num_threads(), "device": str(device), "precision": str(precision)}


def cache_key(*parts: Any, threads: int = 0, device: str = "cpu", precision: str = "float32") -> str:
    """SHA-256 of the canonical JSON of `parts` and the compute (`compute`): equal keys ⇒ equal
    trained weights. Give the thread count training will run with (a method's `threads` config),
    or compute the key inside the `torch_threads` block that trains."""
    return canonical_hash([*parts, compute(threads, device, precision)])


def digest(key: str, meta: Any, state: Any) -> str:
    """SHA-256 over the key, the meta and every tensor's dtype, shape and bytes (dict keys sorted)."""
    h = hashlib.sha256(key.encode())
    _feed(h, meta)
    _feed(h, state)
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}".encode())
        for k in sorted(obj, key=repr):
            h.update(repr(k).encode())
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
    else:  # numbers, strings, None: repr is exact for floats
        h.update(f"V{obj!r}".encode())


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
    try:
        intact = blob.get("sha256") == digest(key, blob.get("meta"), blob["state_dict"])
    except Exception:  # noqa: BLE001 - a structure no checkpoint of ours has: damaged, retrain
        intact = False
    if not intact:
        console.print(f"note: trained-model cache {path} fails its SHA-256 check (damaged, edited, or from an "
                      "fsbench without digests); retraining it", markup=False, highlight=False, soft_wrap=True)
        return None
    return blob


def save_model(path: Path, key: str, model: nn.Module, meta: dict[str, Any] | None = None) -> None:
    buf = io.BytesIO()
    meta, state = meta or {}, model.state_dict()
    torch.save({"key": key, "meta": meta, "state_dict": state, "sha256": digest(key, meta, state)}, buf)
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
