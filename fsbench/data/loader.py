"""Reading a prepared folder (or a Hub snapshot of one) back into an `FsDataset`."""

from __future__ import annotations

import errno
import json
import re
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

from fsbench import paths, registry
from fsbench.data.cards import DatasetCard
from fsbench.data.dataset import FsDataset
from fsbench.data.verified import shard_problem
from fsbench.errors import ENVIRONMENT_ERRNOS, DatasetError, os_cause

#: OS errors about where fsbench writes (FSBENCH_HOME), which no re-prepare would fix
CACHE_ERRNOS = ENVIRONMENT_ERRNOS | {errno.EACCES, errno.EPERM}


def prepare_command(name: str, raw: str = "PATH") -> str:
    return f"fsbench prepare {name} --raw {raw}"


def quiet_datasets() -> None:
    """datasets' own tqdm bars would interleave with fsbench's rich bar; fsbench shows its own."""
    import datasets

    datasets.disable_progress_bars()


def registered_card(name: str) -> DatasetCard | None:
    """The card of a registered dataset builder, or None for an unknown name."""
    if name not in registry.names("datasets"):
        return None
    return registry.get("datasets", name).card


@cache
def _warn_unverified(path: Path, fix: str) -> None:
    """Folders prepared before shard digests still load (once-per-process note, not an error)."""
    from fsbench.progress import console

    console.print(f"note: {path} records no shard digests, so it cannot be verified; {fix} to add them",
                  markup=False, highlight=False, soft_wrap=True)


def card_from_dict(d: dict[str, Any]) -> DatasetCard:
    known = {f.name for f in fields(DatasetCard)}
    kw = {k: v for k, v in d.items() if k in known}
    for key in ("classes", "signers", "unseen_classes"):
        kw[key] = tuple(kw.get(key) or ())
    return DatasetCard(**kw)


def load_prepared(path: Path | str, name: str | None = None, *, revision: str = "local",
                  fix: str | None = None) -> FsDataset:
    """An `FsDataset` from a prepared folder (as written by `write_prepared`, or a Hub snapshot of
    one: then `revision` is its commit and `fix` says how to repair the Hub copy)."""
    import datasets

    path = Path(path).expanduser()
    hint_name = name or path.name
    quiet_datasets()
    fix = fix or f"re-create it with `{prepare_command(hint_name)}`"
    meta_file = path / "fsbench.json"
    if not path.is_dir():
        raise DatasetError(f"prepared dataset folder {path} does not exist; {fix}")
    if not meta_file.is_file():
        raise DatasetError(f"{path} lacks fsbench.json, so it is not a prepared dataset; {fix}")
    try:
        meta = json.loads(meta_file.read_text())
        stored_hash, counts = meta["content_hash"], meta["counts"]
        if not isinstance(stored_hash, str) or not re.fullmatch(r"[0-9a-f]{64}", stored_hash):
            raise TypeError("content_hash is not a SHA-256")
        if not isinstance(counts, dict) or not isinstance(counts.get("images"), int):
            raise TypeError("counts is not an object with an integer 'images'")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise DatasetError(f"{meta_file} is corrupt ({type(exc).__name__}: {exc}); {fix}") from None
    name = name or meta.get("name") or path.name
    shards = sorted((path / "data").glob("train-*.parquet"))
    if not shards:
        raise DatasetError(f"{path} lacks data/train-*.parquet shards; {fix}")
    problem = shard_problem(path, meta)
    if problem is not None and "shards" in meta:
        raise DatasetError(f"{path}: {problem}; {fix}")
    if problem is not None:
        _warn_unverified(path, fix)
    hf_cache = paths.cache_dir("hf")  # outside the try: a read-only or full FSBENCH_HOME is not the shard's fault
    try:
        ds = datasets.Dataset.from_parquet([str(s) for s in shards], cache_dir=str(hf_cache), keep_in_memory=False)
    except OSError as exc:
        if exc.errno in CACHE_ERRNOS:  # the cache folder, not the data: fsbench.cli.failures says so
            raise
        raise DatasetError(f"{path}: parquet shards cannot be read ({exc}); {fix}") from None
    except Exception as exc:  # pyarrow raises many types for a truncated/corrupt shard
        if (cause := os_cause(exc)) is not None:  # datasets wraps a full cache disk in its own error
            raise OSError(cause.errno, cause.strerror, cause.filename or str(hf_cache)) from exc
        raise DatasetError(f"{path}: parquet shards cannot be read ({exc}); {fix}") from None
    if len(ds) != counts.get("images"):
        raise DatasetError(
            f"{path} holds {len(ds)} rows but fsbench.json records {counts.get('images')}; {fix}"
        )
    card = registered_card(name) or card_from_dict(meta.get("card", {"name": name}))
    return to_fs_dataset(name, ds, stored_hash, revision, card, fix)


def to_fs_dataset(name, ds, digest: str, revision: str, card, fix: str) -> FsDataset:
    import datasets

    label = ds.features.get("label")
    if not isinstance(label, datasets.ClassLabel):
        raise DatasetError(f"dataset {name!r} has no ClassLabel column 'label'; {fix}")
    if card is not None and card.classes and tuple(label.names) != tuple(card.classes):
        raise DatasetError(
            f"dataset {name!r} was prepared with other classes than its card lists; {fix}"
        )
    return FsDataset(
        name=name, hf=ds, class_names=list(label.names), content_hash=digest,
        revision=revision, card=card,
    )
