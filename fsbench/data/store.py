"""Prepared datasets on disk: write them atomically, hash their content, load them back.

A prepared dataset is a plain Hub-style dataset folder:

    out/data/train-00000-of-0000N.parquet   rows: id, image (PNG bytes), label, signer[, condition], ...
    out/README.md                           dataset card with HF YAML metadata (+ an `fsbench` block)
    out/fsbench.json                        the fsbench card, content hash and prepare report

so the same folder loads locally, uploads unchanged with `fsbench.data.hub.push`, and loads back
from the Hub. The content hash is SHA-256 over the id-sorted rows (id, label name, signer,
condition, SHA-256 of the decoded pixels); it identifies the data in caches, split manifests and
results files. Pixels rather than encoded bytes are hashed because PNG/zlib builds may encode the
same pixels differently on another machine, and the hash must be identical everywhere.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from PIL import Image

from fsbench import paths, registry
from fsbench.data.builder import PrepareReport, Row
from fsbench.data.cards import DatasetCard
from fsbench.data.dataset import FsDataset
from fsbench.errors import DatasetError

FORMAT_VERSION = 1
SHARD_BYTES = 256 * 2**20
CORE_COLUMNS = ("id", "image", "label", "signer", "condition")


# ---------------------------------------------------------------- hashing


def image_digest(data: bytes) -> str:
    """SHA-256 of the decoded pixels (mode, size, raw bytes) of an encoded image."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        h = hashlib.sha256(f"{im.mode}|{im.size[0]}x{im.size[1]}|".encode())
        h.update(im.tobytes())
    return h.hexdigest()


def content_hash(records: Iterable[tuple[str, str, str, str, str]]) -> str:
    """SHA-256 over sorted (id, label name, signer, condition, pixel digest) records."""
    h = hashlib.sha256()
    for rec in sorted(records):
        h.update(("\t".join(rec) + "\n").encode())
    return h.hexdigest()


def prepare_command(name: str, raw: str = "PATH") -> str:
    return f"fsbench prepare {name} --raw {raw}"


# ---------------------------------------------------------------- writing


def _quiet_datasets() -> None:
    """datasets' own tqdm bars would interleave with fsbench's rich bar; fsbench shows its own."""
    import datasets

    datasets.disable_progress_bars()


def _features(card: DatasetCard, extra: dict[str, Any], with_condition: bool):
    import datasets

    feats: dict[str, Any] = {
        "id": datasets.Value("string"),
        "image": datasets.Image(),
        "label": datasets.ClassLabel(names=list(card.classes)),
        "signer": datasets.Value("string"),
    }
    if with_condition:
        feats["condition"] = datasets.Value("string")
    feats.update(extra)
    return datasets.Features(feats)


def _validate(rows: list[Row], card: DatasetCard, partial: bool) -> None:
    """Card vs data: unknown labels, empty classes, missing/unexpected signers, counts."""
    name = card.name
    if not rows:
        raise DatasetError(
            f"{name}: no images found; expected layout: {card.raw_layout}"
        )
    known = set(card.classes)
    unknown = sorted({r["label"] for r in rows} - known)
    if unknown:
        raise DatasetError(f"{name}: class(es) {unknown[:5]} are not in the dataset card")
    per_class = Counter(r["label"] for r in rows)
    empty = [c for c in card.classes if per_class[c] == 0]
    if empty:
        raise DatasetError(
            f"{name}: {len(empty)} class(es) have no images ({', '.join(empty[:5])}"
            f"{' …' if len(empty) > 5 else ''}); the raw copy is incomplete: {card.raw_layout}"
        )
    signers = {r["signer"] for r in rows}
    if card.signers:
        missing = sorted(set(card.signers) - signers)
        extra = sorted(signers - set(card.signers))
        if missing:
            raise DatasetError(
                f"{name}: signer(s) {missing} from the dataset card have no images; "
                f"the raw copy is incomplete: {card.raw_layout}"
            )
        if extra:
            raise DatasetError(f"{name}: signer(s) {extra[:5]} are not in the dataset card")
    exp = card.expected
    actual = {"images": len(rows), "classes": len(per_class), "signers": len(signers)}
    for key, want in exp.items():
        if key == "images" and partial:
            continue
        if key in actual and actual[key] != want:
            raise DatasetError(
                f"{name}: found {actual[key]} {key}, the dataset card expects {want}; "
                f"check the raw copy against: {card.raw_layout}"
            )


def _dataset_card_md(card: DatasetCard, features, report: PrepareReport, n_shards: int) -> str:
    import yaml

    license_id = card.license.split()[0].lower()
    meta: dict[str, Any] = {
        "license": license_id,
        "pretty_name": card.title,
        "task_categories": ["image-classification"],
        "size_categories": [_size_category(report.counts["images"])],
        "configs": [
            {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
        ],
        "dataset_info": {
            "features": features._to_yaml_list(),
            "splits": [{"name": "train", "num_examples": report.counts["images"]}],
        },
        "fsbench": {
            "name": card.name,
            "format": FORMAT_VERSION,
            "content_hash": report.content_hash,
            "counts": report.counts,
            "shards": n_shards,
        },
    }
    if license_id == "other":
        meta["license_name"] = "see card"
        meta["license_details"] = card.license
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    unseen = (
        f"{len(card.unseen_classes)} fixed unseen classes: "
        + ", ".join(card.unseen_classes[:12])
        + (" …" if len(card.unseen_classes) > 12 else "")
        if card.unseen_classes
        else "none fixed (the unseen-class split draws a seeded 20 %)"
    )
    body = f"""# {card.title}

{card.description}

Prepared by fsbench (`{prepare_command(card.name)}`). One row per image: `id`, `image`
({card.image_size}×{card.image_size} PNG), `label`, `signer`
{f"and `condition` (the {card.condition_column})" if card.condition_column else ""}.

- images: {report.counts.get("images")}, classes: {report.counts.get("classes")}, signers: {report.counts.get("signers")}
- content hash: `{report.content_hash}`
- unseen-class split: {unseen}
- licence: {card.license}

## Raw layout

{card.raw_layout}

## Notes

{card.notes or "-"}

## Citation

```
{card.citation}
```
"""
    return f"---\n{head}---\n\n{body}"


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return label
    return "100K<n<1M"


def write_prepared(
    rows: Iterable[Row],
    out: Path,
    card: DatasetCard,
    features: dict[str, Any],
    report: PrepareReport,
    *,
    partial: bool = False,
    started: float | None = None,
) -> PrepareReport:
    """Validate rows against the card and write a prepared folder at `out`, atomically.

    Everything is written into a temporary folder beside `out` and renamed into place at the
    end, so an interrupted or failed prepare never leaves a half-written dataset behind.
    """
    import datasets

    started = time.perf_counter() if started is None else started
    _quiet_datasets()
    out = Path(out)
    rows = list(rows)  # builders stream; validation needs them all
    ids = Counter(r["id"] for r in rows)
    dup = [i for i, n in ids.items() if n > 1]
    if dup:
        raise DatasetError(f"{card.name}: duplicate row id(s) {dup[:3]}; the builder is broken")
    _validate(rows, card, partial)
    rows.sort(key=lambda r: r["id"])  # file-system order must not change the stored order

    with_condition = any(r.get("condition") is not None for r in rows)
    feats = _features(card, features, with_condition)
    records = []
    columns: dict[str, list[Any]] = {k: [] for k in feats}
    for r in rows:
        cond = r.get("condition")
        records.append((r["id"], r["label"], r["signer"], cond or "", image_digest(r["image"])))
        for key in feats:
            if key == "image":
                columns[key].append({"bytes": r["image"], "path": None})
            elif key == "condition":
                columns[key].append(cond or "")
            else:
                columns[key].append(r[key])
    report.content_hash = content_hash(records)
    per_class = Counter(r["label"] for r in rows)
    per_signer = Counter(r["signer"] for r in rows)
    report.counts = {
        "images": len(rows),
        "classes": len(per_class),
        "signers": len(per_signer),
    }
    report.per_class = {c: per_class[c] for c in card.classes if per_class[c]}
    report.per_signer = dict(sorted(per_signer.items()))
    report.out = str(out)
    del rows

    ds = datasets.Dataset.from_dict(columns, features=feats)
    del columns
    n_bytes = ds.data.nbytes
    n_shards = max(1, math.ceil(n_bytes / SHARD_BYTES))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "data").mkdir(parents=True)
        for i in range(n_shards):
            shard = ds.shard(n_shards, i, contiguous=True)
            shard.to_parquet(str(tmp / "data" / f"train-{i:05d}-of-{n_shards:05d}.parquet"))
        report.wall_s = round(time.perf_counter() - started, 3)
        (tmp / "README.md").write_text(_dataset_card_md(card, feats, report, n_shards))
        meta = {
            "format": FORMAT_VERSION,
            "name": card.name,
            "content_hash": report.content_hash,
            "counts": report.counts,
            "card": card.to_dict(),
            "report": report.to_dict(),
        }
        (tmp / "fsbench.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Replace `out` by `tmp` with renames only; the old folder is removed after the swap."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- loading


def registered_card(name: str) -> DatasetCard | None:
    """The card of a registered dataset builder, or None for an unknown name."""
    if name not in registry.names("datasets"):
        return None
    return registry.get("datasets", name).card


def card_from_dict(d: dict[str, Any]) -> DatasetCard:
    known = {f.name for f in fields(DatasetCard)}
    kw = {k: v for k, v in d.items() if k in known}
    for key in ("classes", "signers", "unseen_classes"):
        kw[key] = tuple(kw.get(key) or ())
    return DatasetCard(**kw)


def load_prepared(path: Path | str, name: str | None = None) -> FsDataset:
    """An `FsDataset` from a prepared folder (as written by `write_prepared`)."""
    import datasets

    path = Path(path).expanduser()
    hint_name = name or path.name
    _quiet_datasets()
    fix = f"re-create it with `{prepare_command(hint_name)}`"
    meta_file = path / "fsbench.json"
    if not path.is_dir():
        raise DatasetError(f"prepared dataset folder {path} does not exist; {fix}")
    if not meta_file.is_file():
        raise DatasetError(f"{path} lacks fsbench.json, so it is not a prepared dataset; {fix}")
    try:
        meta = json.loads(meta_file.read_text())
        stored_hash, counts = meta["content_hash"], meta["counts"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{meta_file} is corrupt ({exc}); {fix}") from None
    name = name or meta.get("name") or path.name
    shards = sorted((path / "data").glob("train-*.parquet"))
    if not shards:
        raise DatasetError(f"{path} lacks data/train-*.parquet shards; {fix}")
    try:
        ds = datasets.Dataset.from_parquet(
            [str(s) for s in shards], cache_dir=str(paths.cache_dir("hf")), keep_in_memory=False
        )
    except Exception as exc:  # pyarrow raises many types for a truncated/corrupt shard
        raise DatasetError(f"{path}: parquet shards cannot be read ({exc}); {fix}") from None
    if len(ds) != counts.get("images"):
        raise DatasetError(
            f"{path} holds {len(ds)} rows but fsbench.json records {counts.get('images')}; {fix}"
        )
    card = registered_card(name) or card_from_dict(meta.get("card", {"name": name}))
    return to_fs_dataset(name, ds, stored_hash, "local", card, fix)


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
