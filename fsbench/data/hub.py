"""Datasets by name, folder or Hub id: resolve them, prepare them, push and pull them.

The on-disk format and its writer/loader live in `fsbench.data.store`; this module decides where a
dataset comes from (prepared folder, default raw files, pinned Hub revision) and talks to the Hub.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fsbench import paths, registry
from fsbench.data.records import PrepareReport
from fsbench.data.cards import DatasetCard
from fsbench.data.dataset import FsDataset
from fsbench.data.loader import (
    card_from_dict,
    load_prepared,
    prepare_command,
    registered_card,
    to_fs_dataset,
)
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


def load_hub(repo_id: str, revision: str | None = None, name: str | None = None) -> FsDataset:
    """An `FsDataset` from a Hub dataset repo pushed by `push` (HF_HUB_OFFLINE is respected:
    then only the local cache is used)."""
    import datasets
    from huggingface_hub import hf_hub_download

    name = name or _name_for_repo(repo_id) or repo_id.split("/")[-1]
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    where = f"{repo_id}@{revision or 'main'}"
    fix = f"prepare it from the raw files instead: `{prepare_command(name)}`"
    try:
        meta_path = hf_hub_download(
            repo_id, "fsbench.json", repo_type="dataset", revision=revision
        )
        meta = json.loads(Path(meta_path).read_text())
        ds = datasets.load_dataset(repo_id, revision=revision, split="train")
    except Exception as exc:  # network, auth, cache misses: all end in the same advice
        reason = (
            "is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
            if offline
            else f"could not be loaded from the Hub ({type(exc).__name__})"
        )
        raise DatasetError(f"dataset {name!r} ({where}) {reason}; {fix}") from None
    card = registered_card(name) or card_from_dict(meta.get("card", {"name": name}))
    return to_fs_dataset(name, ds, meta["content_hash"], revision or "main", card, fix)


def push(
    path: Path | str,
    repo_id: str,
    revision: str | None = None,
    commit_message: str | None = None,
    private: bool = False,
) -> str:
    """Upload a prepared folder to a Hub dataset repo; returns the commit id to pin."""
    from huggingface_hub import HfApi

    path = Path(path)
    load_prepared(path)  # never push a malformed folder
    meta = json.loads((path / "fsbench.json").read_text())
    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
    info = api.upload_folder(
        folder_path=str(path),
        repo_id=repo_id,
        repo_type="dataset",
        revision=revision,
        commit_message=commit_message
        or f"fsbench prepare {meta['name']} ({meta['content_hash'][:12]})",
    )
    return getattr(info, "oid", None) or str(info)


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
    **builder_options: Any,
) -> PrepareReport:
    """What `fsbench prepare NAME --raw PATH [--out DIR] [--push REPO] [--strict]` does."""
    builder_cls = registry.get("datasets", name)
    builder = builder_cls(partial=partial, **builder_options)
    raw_path = Path(raw) if raw is not None else default_raw(builder.card)
    if raw_path is None:
        raise DatasetError(f"dataset {name!r} has no default raw location; use `{prepare_command(name)}`")
    # the card's name, not the builder's: `prepare folder --name NAME` lands where `--dataset NAME` looks
    report = builder.prepare(raw_path, Path(out) if out else paths.prepared_dir(builder.card.name), strict=strict)
    if push:
        _push(report.out, push)
    return report


_push = push


def resolve_dataset(spec: str) -> FsDataset:
    """A registered name, a prepared folder path, `hub:owner/repo@revision`, or the NAME given to
    `fsbench prepare folder --name NAME` → `FsDataset`.

    A registered name loads its prepared folder under FSBENCH_HOME; if there is none it is
    prepared once from the card's default raw location (when present), else loaded from the
    card's pinned Hub revision.
    """
    if spec.startswith("hub:"):
        repo, _, rev = spec[4:].partition("@")
        if not repo or "/" not in repo:
            raise DatasetError(f"bad hub dataset {spec!r}; write hub:owner/repo@revision")
        return load_hub(repo, rev or None)
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
