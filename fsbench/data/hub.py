"""Datasets by name, folder or Hub id: resolve them, prepare them, push and pull them.

The on-disk format is written by `fsbench.data.store` and read by `fsbench.data.loader`; this module
decides where a dataset comes from (prepared folder, default raw files, pinned Hub revision) and
where it goes (`push_dataset`: a Hub repo online, or a local git repo in the Hub's layout).
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from fsbench import paths, registry
from fsbench.data.records import PrepareReport
from fsbench.data.cards import DatasetCard
from fsbench.data.dataset import FsDataset
from fsbench.data.git_repo import commit_files
from fsbench.data.hub_repo import HubRef, fetch, is_hub, parse, upload
from fsbench.data.loader import load_prepared, prepare_command, registered_card
from fsbench.errors import DatasetError, FsbenchError
from fsbench.progress import console


def _name_for_repo(repo_id: str) -> str | None:
    for n in registry.names("datasets"):
        try:
            card = registered_card(n)
        except FsbenchError:
            continue
        if card is not None and card.hub_repo == repo_id:
            return n
    return None


#: what a dataset repo holds: the prepared folder, nothing else (plus the Hub's .gitattributes)
DATASET_FILES = ("fsbench.json", "README.md", "data/train-*.parquet")


def load_hub(repo_id: str, revision: str | None = None, name: str | None = None) -> FsDataset:
    """An `FsDataset` from a Hub dataset repo written by `push_dataset`, pinned to `revision`.

    The files are downloaded into the Hugging Face cache (HF_HUB_OFFLINE: only the cache is
    read) and loaded by the same `load_prepared` as a local folder, so shard digests, seal and
    counts are checked and the content hash is the one the folder was prepared with.
    """
    name = name or _name_for_repo(repo_id)  # None: the name it was prepared under (its fsbench.json)
    label = name or repo_id.split("/")[-1]
    fix = f"prepare it from the raw files instead: `{prepare_command(label)}`"
    folder, commit = fetch(HubRef(repo_id, revision), f"dataset {label!r}", fix, DATASET_FILES)
    damaged = f"the Hub copy {repo_id}@{commit[:12]} is damaged: push it again with `fsbench push`, or {fix}"
    return load_prepared(folder, name, revision=commit, fix=damaged)


@dataclass(frozen=True)
class Pushed:
    """Where `push_dataset` put a dataset, and the revision that pins it."""

    name: str
    content_hash: str
    target: str
    revision: str
    changed: bool  # False: the target already held exactly this content (no new commit)


def push_dataset(dataset: str | Path, to: str, private: bool = False) -> Pushed:
    """A prepared dataset (name or folder) → a Hub dataset repo: `hub:OWNER/NAME[@BRANCH]` online
    (needs a token), or a local git repository DIR in the same layout, committed on main."""
    folder = prepared_folder(dataset)
    load_prepared(folder)  # never push a malformed folder
    meta = json.loads((folder / "fsbench.json").read_text())
    message = f"fsbench prepare {meta['name']} ({meta['content_hash'][:12]})"
    files = {"README.md": folder / "README.md", "fsbench.json": folder / "fsbench.json",
             **{f"data/{p.name}": p for p in sorted((folder / "data").glob("train-*.parquet"))}}
    if is_hub(to):
        ref = parse(to)
        revision = upload(files, ref, message, private=private, delete=["data/*.parquet"])
        return Pushed(meta["name"], meta["content_hash"], str(ref), revision, True)
    revision, changed = commit_files(to, files, allowed=lambda rel: _dataset_file(rel) or rel == ".gitattributes",
                                     replaced=_dataset_file, message=message, what="a fsbench dataset repo")
    return Pushed(meta["name"], meta["content_hash"], str(Path(to).expanduser().resolve()), revision, changed)


def _dataset_file(rel: str) -> bool:
    """A path of a dataset repo that a push replaces (the Hub's .gitattributes is left alone)."""
    return fnmatch(rel, "data/*") or rel in ("README.md", "fsbench.json")


def push(path: Path | str, repo_id: str, revision: str | None = None, private: bool = False) -> str:
    """Upload a prepared folder to a Hub dataset repo (`prepare --push`); the commit id to pin."""
    return push_dataset(path, f"hub:{repo_id}" + (f"@{revision}" if revision else ""), private=private).revision


def prepared_folder(dataset: str | Path) -> Path:
    """The prepared folder of a dataset name (prepared once from its raw files if it can be) or path."""
    spec = str(dataset)
    if is_hub(spec):
        raise DatasetError(f"{spec} is already on the Hub; push a prepared dataset name or folder")
    path = Path(spec).expanduser()
    if path.is_dir() or os.sep in spec or spec.startswith("."):
        return path
    if not (paths.prepared_dir(spec) / "fsbench.json").is_file():
        resolve_dataset(spec)  # prepares it from the card's raw files, or says how to
    if not (paths.prepared_dir(spec) / "fsbench.json").is_file():
        raise DatasetError(f"dataset {spec!r} has no prepared folder to push; run `{prepare_command(spec)}`")
    return paths.prepared_dir(spec)


# ---------------------------------------------------------------- resolving and preparing


def default_raw(card: DatasetCard) -> Path | None:
    """Where the card says the raw files live (None if it says nothing)."""
    if not card.default_raw:
        return None
    if card.default_raw.startswith("embedded:"):
        return paths.embedded(card.default_raw.split(":", 1)[1])
    return paths.data_root() / card.default_raw


def prepare_dataset(
    name: str,
    raw: Path | str | None = None,
    out: Path | str | None = None,
    push: str | None = None,
    strict: bool = False,
    partial: bool = False,
    allow_duplicates: bool = False,
    **builder_options: Any,
) -> PrepareReport:
    """What `fsbench prepare NAME --raw PATH [--out DIR] [--push REPO] [--strict] [--allow-duplicates]` does."""
    builder_cls = registry.get("datasets", name)
    try:  # an option the builder does not take is the caller's mistake, not a TypeError from inside it
        inspect.signature(builder_cls).bind(partial=partial, **builder_options)
    except TypeError as exc:
        raise DatasetError(f"dataset {name!r} does not take these options ({exc})") from None
    builder = builder_cls(partial=partial, **builder_options)
    raw_path = Path(raw) if raw is not None else default_raw(builder.card)
    if raw_path is None:
        raise DatasetError(f"dataset {name!r} has no default raw location; use `{prepare_command(name)}`")
    # the card's name, not the builder's: `prepare folder --name NAME` lands where `--dataset NAME` looks
    report = builder.prepare(raw_path, Path(out) if out else paths.prepared_dir(builder.card.name), strict=strict,
                             allow_duplicates=allow_duplicates)
    if push:
        push_dataset(report.out, push if is_hub(push) else f"hub:{push}")
    return report


def resolve_dataset(spec: str) -> FsDataset:
    """A registered name, a prepared folder path, `hub:owner/repo@revision`, or the NAME given to
    `fsbench prepare folder --name NAME` → `FsDataset`.

    A registered name loads its prepared folder under FSBENCH_HOME; if there is none it is
    prepared once from the card's default raw location (when present), else loaded from the
    card's pinned Hub revision.
    """
    if is_hub(spec):
        ref = parse(spec)
        return load_hub(ref.repo_id, ref.revision)
    path = Path(spec).expanduser()
    if spec not in registry.names("datasets"):
        if path.is_dir() or os.sep in spec or spec.startswith("."):
            return load_prepared(path)
        if (paths.prepared_dir(spec) / "fsbench.json").is_file():  # `fsbench prepare folder --name spec`
            return load_prepared(paths.prepared_dir(spec), spec)
        registry.find("datasets", spec)  # raises the did-you-mean error
    card = registered_card(spec)
    assert card is not None
    prepared = paths.prepared_dir(spec)
    if (prepared / "fsbench.json").is_file():
        return load_prepared(prepared, spec)
    raw = default_raw(card)
    if raw is not None and raw.exists():
        console.print(
            f"[bold]{spec}[/] is not prepared yet; preparing it once from {raw} → {prepared}"
        )
        prepare_dataset(spec, raw)
        return load_prepared(prepared, spec)
    if card.hub_repo and card.revision:
        return load_hub(card.hub_repo, card.revision, spec)
    raise DatasetError(
        f"dataset {spec!r} is not prepared and its raw files are not at "
        f"{raw or 'a known location'}; run `{prepare_command(spec)}`"
    )
