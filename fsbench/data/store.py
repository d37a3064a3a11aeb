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
import re
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from fsbench.atomic import owned_temp, remove_stale
from fsbench.data.loader import prepare_command, quiet_datasets
from fsbench.data.records import PrepareReport, Row
from fsbench.data.cards import DatasetCard
from fsbench.data.digests import file_sha256
from fsbench.data.verified import seal
from fsbench.deprecated import forward
from fsbench.errors import DatasetError
from fsbench.names import output_dir, read_input

FORMAT_VERSION = 1
SHARD_BYTES = 256 * 2**20
CORE_COLUMNS = ("id", "image", "label", "signer", "condition")


# ---------------------------------------------------------------- hashing


#: what a prepared folder holds: nothing else may be replaced by `prepare --out`
PREPARED_ENTRIES = frozenset({"data", "README.md", "fsbench.json"})
SHARD = re.compile(r"train-\d{5}-of-\d{5}\.parquet")


def image_digest(data: bytes) -> str:
    """SHA-256 of the decoded pixels (mode, size, raw bytes) of an encoded image."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        h = hashlib.sha256(f"{im.mode}|{im.size[0]}x{im.size[1]}|".encode())
        h.update(im.tobytes())
    return h.hexdigest()


def duplicate_images(records: Iterable[tuple[str, str, str, str, str]]) -> list[dict[str, Any]]:
    """Groups of rows with identical pixels: {sha256, ids, signers, labels}, largest first.

    The same picture under two signers puts it in a training and a test fold at once (a leak that
    lifted one signer 0.833 → 1.0); under two classes it is a labelling error.
    """
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for row_id, label, signer, _, digest in records:
        groups.setdefault(digest, []).append((row_id, label, signer))
    found = [{"sha256": d, "ids": sorted(r[0] for r in rs), "signers": sorted({r[2] for r in rs}),
              "labels": sorted({r[1] for r in rs})} for d, rs in groups.items() if len(rs) > 1]
    return sorted(found, key=lambda g: (-len(g["ids"]), g["ids"]))


def check_duplicates(name: str, groups: list[dict[str, Any]], allowed: bool) -> None:
    """Refuse pictures shared by signers unless `allowed` (prepare --allow-duplicates)."""
    shared = [g for g in groups if len(g["signers"]) > 1]
    if shared and not allowed:
        g = shared[0]
        raise DatasetError(
            f"{name}: {len(shared)} image(s) appear under more than one signer with identical pixels (e.g. "
            f"{' and '.join(repr(i) for i in g['ids'][:2])}, signers {', '.join(g['signers'][:3])}): a training fold "
            "would hold a test signer's picture; remove the copies, or prepare with --allow-duplicates to keep "
            "them (listed in fsbench.json)")


def content_hash(records: Iterable[tuple[str, str, str, str, str]]) -> str:
    """SHA-256 over sorted (id, label name, signer, condition, pixel digest) records."""
    h = hashlib.sha256()
    for rec in sorted(records):
        h.update(("\t".join(rec) + "\n").encode())
    return h.hexdigest()


# ---------------------------------------------------------------- writing


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


def _validate(rows: list[Row], card: DatasetCard, partial: bool, corrupt: list[dict[str, str]] = ()) -> None:
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
            bad = "; ".join(f"{c['path']} ({c['reason']})" for c in corrupt[:3])
            unreadable = f" ({len(corrupt)} unreadable: {bad}{' …' if len(corrupt) > 3 else ''})" if corrupt else ""
            raise DatasetError(
                f"{name}: found {actual[key]} {key}{unreadable}, the dataset card expects {want}; "
                f"fix or replace the unreadable files, or check the raw copy against: {card.raw_layout}"
            )


def _dataset_card_md(card: DatasetCard, features, report: PrepareReport, n_shards: int, n_bytes: int) -> str:
    import yaml

    license_id = (card.license.split() or ["unknown"])[0].lower()
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
            # name, num_bytes and num_examples: `datasets` ignores a split that lacks one of them
            "splits": [{"name": "train", "num_bytes": n_bytes, "num_examples": report.counts["images"]}],
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
    allow_duplicates: bool = False,
) -> PrepareReport:
    """Validate rows against the card and write a prepared folder at `out`, atomically.

    Rows with identical pixels are listed in the report (`duplicate_images`); identical pixels
    under two signers are refused unless `allow_duplicates`.

    Everything is written into a temporary folder beside `out` and renamed into place at the
    end, so an interrupted or failed prepare never leaves a half-written dataset behind.
    """
    import datasets

    started = time.perf_counter() if started is None else started
    quiet_datasets()
    out = ensure_replaceable(out, card.name)
    rows = list(rows)  # builders stream; validation needs them all
    ids = Counter(r["id"] for r in rows)
    dup = [i for i, n in ids.items() if n > 1]
    if dup:
        raise DatasetError(f"{card.name}: duplicate row id(s) {dup[:3]}; the builder is broken")
    _validate(rows, card, partial, report.corrupt)
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
    report.duplicate_images = duplicate_images(records)
    check_duplicates(card.name, report.duplicate_images, allow_duplicates)
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
    remove_stale(out.parent)  # what killed prepares left (their owners are gone)
    try:
        with owned_temp(out) as tmp:  # removed on any failure
            (tmp / "data").mkdir(parents=True)
            for i in range(n_shards):
                shard = ds.shard(n_shards, i, contiguous=True)
                shard.to_parquet(str(tmp / "data" / f"train-{i:05d}-of-{n_shards:05d}.parquet"))
            report.wall_s = round(time.perf_counter() - started, 3)
            (tmp / "README.md").write_text(_dataset_card_md(card, feats, report, n_shards, n_bytes))
            shards = {f"data/{p.name}": file_sha256(p) for p in sorted((tmp / "data").glob("train-*.parquet"))}
            meta = {
                "format": FORMAT_VERSION,
                "name": card.name,
                "content_hash": report.content_hash,
                "counts": report.counts,
                "shards": shards,
                "seal": seal(report.content_hash, report.counts, shards),
                "card": card.to_dict(),
                "report": report.to_dict(),
            }
            (tmp / "fsbench.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
            _swap_into_place(tmp, ensure_replaceable(out, card.name))
    except OSError as exc:
        if exc.errno is not None and exc.filename is None:
            exc.filename = str(out)  # pyarrow's failed write names no file: name the dataset being written
        raise
    return report


def ensure_replaceable(out: Path, name: str) -> Path:
    """`out`, resolved, when it is free or a prepared `name` dataset; else a one-line refusal.

    `prepare --out` replaces its target, so the target must hold nothing but what prepare
    writes (data/train-*.parquet, README.md, fsbench.json): a home directory, a file or a
    user's folder is never deleted.
    """
    output_dir(out)  # a symlink loop, a device, a parent that is a file, or read-only: before any work
    out = Path(out).expanduser().resolve()
    if not out.exists() and not out.is_symlink():
        return out
    fix = f"choose a new or empty folder for --out, or remove {out} yourself"
    if Path.cwd().resolve().is_relative_to(out):
        raise DatasetError(f"--out {out} is the folder you are in (or holds it); prepare will not replace it: {fix}")
    if out.is_symlink() or not out.is_dir():
        raise DatasetError(f"--out {out} is not a folder; prepare will not replace it: {fix}")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in PREPARED_ENTRIES)
    data = out / "data"
    if data.is_dir():
        foreign += sorted(f"data/{p.name}" for p in data.iterdir() if not SHARD.fullmatch(p.name))
    elif data.exists():
        foreign.append("data")
    if foreign:
        raise DatasetError(
            f"--out {out} holds files that are not a prepared dataset ({', '.join(foreign[:3])}); "
            f"prepare will not delete them: {fix}"
        )
    try:
        found = json.loads(read_input(out / "fsbench.json", "prepared dataset metadata")).get("name")
    except (OSError, ValueError, AttributeError, RecursionError):
        found = name  # a broken prepare output of ours: safe to replace
    if found != name:
        raise DatasetError(f"--out {out} holds the prepared dataset {found!r}, not {name!r}; prepare will not replace it: {fix}")
    return out


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Replace `out` by `tmp` with renames only; the old folder is removed after the swap."""
    if not out.exists():
        os.replace(tmp, out)
        return
    with owned_temp(out) as old:  # the old folder, removed on the way out
        os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(old, out)
            raise


# `load_prepared` moved to fsbench.data.loader in 0.1: served with a DeprecationWarning until 0.2.0
__getattr__ = forward(__name__, {"load_prepared": "fsbench.data.loader"})
