"""An in-memory index over a prepared Hugging Face dataset, and views onto parts of it.

Metadata (ids, labels, signers, conditions) is held as numpy arrays so splits and episodes are
vectorised; pixels are decoded once per (content hash, size, mode) into a memory-mapped cache
and read back in slices, so no run holds a whole decoded dataset in memory.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from fsbench.atomic import owned_temp, remove_stale
from fsbench.data.decode import to_mode, upright
from fsbench.data.digests import cache_is_valid, seal_cache
from fsbench.errors import DatasetError
from fsbench.paths import cache_dir
from fsbench.progress import progress_bar

if TYPE_CHECKING:
    import datasets

    from fsbench.data.cards import DatasetCard

Mode = Literal["RGB", "L"]


@dataclass
class FsDataset:
    """A prepared dataset: one row per image, columns id/image/label/signer[/condition]."""

    name: str
    hf: "datasets.Dataset"
    class_names: list[str]
    content_hash: str
    revision: str = "local"
    card: "DatasetCard | None" = None
    ids: np.ndarray = field(init=False)
    labels: np.ndarray = field(init=False)
    signers: np.ndarray = field(init=False)
    conditions: np.ndarray | None = field(init=False)
    extra: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        cols = set(self.hf.column_names)
        missing = {"id", "image", "label", "signer"} - cols
        if missing:
            raise DatasetError(
                f"dataset {self.name!r} lacks column(s) {sorted(missing)}; "
                f"re-create it with `fsbench prepare {self.name}`"
            )
        meta = self.hf.select_columns([c for c in self.hf.column_names if c != "image"])
        table = meta.with_format("numpy")[:]  # one batch: per-row iteration is ~1000x slower
        self.ids = np.asarray(table["id"]).astype(str)
        self.labels = np.asarray(table["label"], dtype=np.int64)
        self.signers = np.asarray(table["signer"]).astype(str)
        self.conditions = np.asarray(table["condition"]).astype(str) if "condition" in cols else None
        self.extra = {
            c: np.asarray(table[c])
            for c in meta.column_names
            if c not in {"id", "label", "signer", "condition"}
        }
        if len(set(self.ids.tolist())) != len(self.ids):
            raise DatasetError(f"dataset {self.name!r} has duplicate ids; re-run prepare")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def signer_names(self) -> list[str]:
        return sorted(set(self.signers.tolist()))

    def view(self, indices: np.ndarray | None = None) -> "DatasetView":
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        return DatasetView(self, idx)

    def images(self, indices: np.ndarray, size: int, mode: Mode = "RGB") -> np.ndarray:
        """uint8 (N, H, W, C) pixels of `indices`, resized to size×size."""
        cache = self._decoded(size, mode)
        order = np.argsort(indices, kind="stable")  # memmap reads are fastest in file order
        out = np.empty((len(indices), *cache.shape[1:]), dtype=np.uint8)
        out[order] = cache[np.asarray(indices)[order]]
        return out

    def _decoded(self, size: int, mode: Mode) -> np.ndarray:
        """The (N, size, size, C) uint8 memmap of every image, decoded once per content hash.

        A cache is used only when its sidecar vouches for it (fsbench.data.verified): a
        truncated, zeroed or foreign file is rebuilt, never trusted.
        """
        channels = 3 if mode == "RGB" else 1
        folder = cache_dir("images")
        path = folder / f"{self.content_hash[:20]}-{size}-{mode}.npy"
        shape = (len(self), size, size, channels)
        if not cache_is_valid(path, self.content_hash, shape):
            remove_stale(folder)
            self._decode_into(path, shape, size, mode)
            seal_cache(path, self.content_hash, shape)
        return np.load(path, mmap_mode="r")

    def _decode_into(self, path, shape: tuple[int, ...], size: int, mode: Mode) -> None:
        """Decode into a temp file whose space is reserved first (a full disk is an OSError, not
        a SIGBUS from a sparse memmap), then rename it into place; no temp file survives a failure."""
        with owned_temp(path) as tmp:
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            with open(tmp, "r+b") as fh:
                os.posix_fallocate(fh.fileno(), 0, os.fstat(fh.fileno()).st_size)
            images = self.hf.select_columns(["image", "id"]).cast_column("image", _raw_image_feature())
            with progress_bar() as bar:
                task = bar.add_task(f"decoding {self.name} at {size}px", total=len(self), unit="images")
                for start in range(0, len(self), 256):
                    batch = images[start : start + 256]
                    for j, (cell, row_id) in enumerate(zip(batch["image"], batch["id"])):
                        arr[start + j] = decode_image(cell, size, mode, row_id)
                    bar.advance(task, len(batch["id"]))
            arr.flush()
            del arr
            os.replace(tmp, path)


def _raw_image_feature():
    import datasets

    return datasets.Image(decode=False)


def decode_image(cell: dict, size: int, mode: Mode, row_id: str = "?") -> np.ndarray:
    """Encoded image cell {bytes|path} → uint8 (size, size, C). A corrupt image names its id."""
    try:
        src = io.BytesIO(cell["bytes"]) if cell.get("bytes") else cell["path"]
        with Image.open(src) as im:
            im = to_mode(upright(im), mode).resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(
            f"image {row_id!r} cannot be decoded ({exc}); re-run `fsbench prepare` to drop it"
        ) from None
    return arr[..., None] if arr.ndim == 2 else arr


@dataclass
class DatasetView:
    """A subset of a dataset, in a fixed order. Methods only ever see views.

    A view exposes its own rows and nothing else, which is how the protocol keeps test
    signers away from `Method.fit`.
    """

    dataset: FsDataset
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> np.ndarray:
        return self.dataset.labels[self.indices]

    @property
    def signers(self) -> np.ndarray:
        return self.dataset.signers[self.indices]

    @property
    def ids(self) -> np.ndarray:
        return self.dataset.ids[self.indices]

    @property
    def num_classes(self) -> int:
        return len(self.dataset.class_names)

    @property
    def fingerprint(self) -> str:
        """Identity of exactly these rows of exactly this dataset: a cache key."""
        h = hashlib.sha256(self.dataset.content_hash.encode())
        h.update("\n".join(self.ids.tolist()).encode())
        return h.hexdigest()

    def subset(self, positions: np.ndarray) -> "DatasetView":
        """A view of some of this view's rows (positions are relative to this view)."""
        return DatasetView(self.dataset, self.indices[np.asarray(positions, dtype=np.int64)])

    def images(self, size: int, mode: Mode = "RGB") -> np.ndarray:
        return self.dataset.images(self.indices, size, mode)

    def tensors(
        self, size: int, mode: Mode = "RGB", batch_size: int = 256
    ) -> Iterator[torch.Tensor]:
        """Stream float (B, C, H, W) batches in [0, 1], in view order."""
        for start in range(0, len(self), batch_size):
            chunk = self.dataset.images(self.indices[start : start + batch_size], size, mode)
            yield to_tensor(chunk)

    def tensor(self, size: int, mode: Mode = "RGB") -> torch.Tensor:
        return to_tensor(self.images(size, mode))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) → float (N, C, H, W) in [0, 1]."""
    # one copy, straight to float: wrapping a read-only memmap first would make torch warn
    return torch.from_numpy(images.astype(np.float32)).permute(0, 3, 1, 2).div_(255)

