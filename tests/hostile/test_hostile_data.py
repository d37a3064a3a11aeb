"""Prepared data and pixel caches are verified before they are trusted; stale temp files are cleaned."""

from __future__ import annotations

import io
import json
import os
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from fsbench.data.cards import DatasetCard
from fsbench.data.records import PrepareReport
from fsbench.data.store import write_prepared
from fsbench.errors import DatasetError
from fsbench.paths import cache_dir
from fsbench.testing import tiny_rows, write_tiny
from harness import fsbench, load, refused


@pytest.fixture
def copy(tmp_path):
    """A private prepared tiny dataset (tests damage it)."""
    return write_tiny(tmp_path / "tiny")


def run(dataset, tmp_path, size: int = 8):
    out = tmp_path / f"r{size}.json"
    return fsbench("run", "-m", "pixels", "-d", dataset, "-s", "leave-signer-out", "--shots", "1", "--episodes", "2",
                   "--set", f"size={size}", "--out", out), out


def shard(folder):
    (path,) = sorted((folder / "data").glob("train-*.parquet"))
    return path


def blacken(path):
    """Every image black, the rest of the table unchanged: fsbench.json is left alone."""
    table = pq.read_table(path)
    buf = io.BytesIO()
    Image.new("RGB", (24, 24)).save(buf, format="PNG")
    images = table.column("image").to_pylist()
    col = [{"bytes": buf.getvalue(), "path": None} for _ in images]
    import pyarrow as pa

    table = table.set_column(table.schema.get_field_index("image"), "image", pa.array(col, type=table.schema.field("image").type))
    pq.write_table(table, path)


def edit_meta(folder, change):
    meta = load(folder / "fsbench.json")
    change(meta)
    (folder / "fsbench.json").write_text(json.dumps(meta))


DAMAGE = {
    "blackened-images": (lambda f: blacken(shard(f)), "does not match its SHA-256"),
    "truncated-shard": (lambda f: os.truncate(shard(f), shard(f).stat().st_size // 2), "does not match its SHA-256"),
    "appended-byte": (lambda f: shard(f).open("ab").write(b"\0"), "does not match its SHA-256"),
    "flipped-byte": (lambda f: _flip(shard(f)), "does not match its SHA-256"),
    "extra-shard": (lambda f: (f / "data" / "train-00001-of-00002.parquet").write_bytes(shard(f).read_bytes()),
                    "is not one of the shards"),
    "shard-deleted": (lambda f: shard(f).unlink(), "lacks data/train-*.parquet"),
    "edited-content-hash": (lambda f: edit_meta(f, lambda m: m.update(content_hash="0" * 64)), "seal does not match"),
    "edited-counts": (lambda f: edit_meta(f, lambda m: m["counts"].update(classes=99)), "seal does not match"),
    "edited-shard-digest": (lambda f: edit_meta(f, lambda m: m["shards"].update({k: "0" * 64 for k in m["shards"]})),
                            "does not match its SHA-256"),
    "seal-removed": (lambda f: edit_meta(f, lambda m: m.pop("seal")), "seal does not match"),
    "shards-emptied": (lambda f: edit_meta(f, lambda m: m.update(shards={})), "records no shard digests"),
    "counts-string": (lambda f: edit_meta(f, lambda m: m.update(counts="48")), "fsbench.json is corrupt"),
    "images-count-string": (lambda f: edit_meta(f, lambda m: m["counts"].update(images="48")), "is corrupt"),
    "hash-not-hex": (lambda f: edit_meta(f, lambda m: m.update(content_hash="xyz")), "is corrupt"),
    "hash-missing": (lambda f: edit_meta(f, lambda m: m.pop("content_hash")), "is corrupt"),
    "meta-list": (lambda f: (f / "fsbench.json").write_text("[]"), "is corrupt"),
    "meta-deep": (lambda f: (f / "fsbench.json").write_text("[" * 100_000), "is corrupt"),
    "meta-empty": (lambda f: (f / "fsbench.json").write_text(""), "is corrupt"),
    "meta-missing": (lambda f: (f / "fsbench.json").unlink(), "lacks fsbench.json"),
    "meta-folder": (lambda f: ((f / "fsbench.json").unlink(), (f / "fsbench.json").mkdir()), "lacks fsbench.json"),
    "data-is-a-file": (lambda f: (_rm(f / "data"), (f / "data").write_text("x")), "lacks data/train-*.parquet"),
}


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _rm(folder):
    shutil.rmtree(folder)


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_prepared_folder_is_one_line_naming_the_fix(case, copy, tmp_path):
    damage, needle = DAMAGE[case]
    damage(copy)
    outcome, out = run(copy, tmp_path)
    line = refused(outcome, needle)
    assert "fsbench prepare" in line and str(copy) in line
    assert not out.exists()  # no result stamped with the genuine hash


def _cache_files(dataset_dir, size):
    h = load(dataset_dir / "fsbench.json")["content_hash"][:20]
    return cache_dir("images") / f"{h}-{size}-RGB.npy"


CACHE_DAMAGE = {
    "zeroed": lambda p: p.write_bytes(p.read_bytes()[:128] + bytes(p.stat().st_size - 128)),
    "truncated": lambda p: os.truncate(p, p.stat().st_size // 3),
    "emptied": lambda p: p.write_bytes(b""),
    "foreign-same-shape": lambda p: np.save(p, np.full(np.load(p).shape, 7, np.uint8)),
    "foreign-shape": lambda p: np.save(p, np.zeros((2, 2), np.uint8)),
    "garbage": lambda p: p.write_bytes(b"not an npy file at all"),
    "sidecar-deleted": lambda p: p.with_name(p.name + ".json").unlink(),
    "sidecar-garbage": lambda p: p.with_name(p.name + ".json").write_text("{"),
    "sidecar-other-hash": lambda p: p.with_name(p.name + ".json").write_text(
        json.dumps({**load(p.with_name(p.name + ".json")), "content_hash": "f" * 64})),
    "cache-is-a-folder": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("case", sorted(CACHE_DAMAGE))
def test_damaged_pixel_cache_is_rebuilt_not_trusted(case, copy, tmp_path):
    size = 6 + sorted(CACHE_DAMAGE).index(case)  # a cache of its own per case
    first, out = run(copy, tmp_path, size)
    assert first.rc == 0, first.err
    want = load(out)["metrics"]
    cache = _cache_files(copy, size)
    assert cache.is_file()
    CACHE_DAMAGE[case](cache)
    out.unlink()
    again, out = run(copy, tmp_path, size)
    if case == "cache-is-a-folder":  # not ours to delete: one line instead
        refused(again, str(cache))
        return
    assert again.rc == 0, again.err
    assert load(out)["metrics"] == want  # the same numbers, not chance from a zeroed cache
    assert np.load(cache).shape[0] == 48


def test_old_folder_without_digests_still_loads(copy, tmp_path):
    edit_meta(copy, lambda m: (m.pop("shards"), m.pop("seal")))
    outcome, out = run(copy, tmp_path)
    assert outcome.rc == 0 and out.exists(), outcome.err
    assert "records no shard digests" in outcome.err and "Traceback" not in outcome.err


def test_corrupt_image_names_the_file_in_the_count_error(tmp_path):
    """A card expecting N images and a corrupt file: the error says which file, not only the count."""
    rows = tiny_rows()
    card = DatasetCard(name="tiny", title="t", description="t", license="CC0", citation="none",
                       classes=("a", "b", "c", "d"), signers=("s1", "s2", "s3"), raw_layout="synthetic",
                       image_size=24, expected={"images": len(rows) + 1})
    report = PrepareReport(dataset="tiny", raw="synthetic")
    report.corrupt.append({"path": "s2/b/broken.jpg", "reason": "image file is truncated"})
    with pytest.raises(DatasetError, match=r"found 48 images \(1 unreadable: s2/b/broken.jpg \(image file is truncated\)\)"):
        write_prepared(rows, tmp_path / "out", card, {}, report)
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "other-key"])
def test_damaged_model_checkpoint_is_retrained_not_trusted(damage, tmp_path):
    """The trained-model cache (`fsbench.training.cache`) retrains over a bad file, never crashes on it."""
    import torch

    from fsbench.training.cache import save_model, train_or_load

    path = tmp_path / "m.pt"
    save_model(path, "other" if damage == "other-key" else "k", torch.nn.Linear(2, 2))
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"PK\x03\x04junk",
                      "other-key": data}[damage])
    trained = []
    model, _ = train_or_load(path, "k", lambda meta: torch.nn.Linear(2, 2), lambda m: trained.append(m))
    assert trained and isinstance(model, torch.nn.Linear)
    assert torch.load(path, weights_only=True)["key"] == "k"  # rewritten whole


def test_failed_decode_leaves_no_temp_cache(tmp_path):
    """An image that cannot be decoded while the pixel cache is built: one line naming its id, and
    neither a temp file nor a half cache stays in cache/images."""
    import datasets

    from fsbench.data.dataset import FsDataset

    rows = tiny_rows(per_cell=1)
    rows[5]["image"] = b"\x89PNG\r\n\x1a\n broken"
    hf = datasets.Dataset.from_dict(
        {"id": [r["id"] for r in rows], "image": [{"bytes": r["image"], "path": None} for r in rows],
         "label": [("a", "b", "c", "d").index(r["label"]) for r in rows], "signer": [r["signer"] for r in rows]},
        features=datasets.Features({"id": datasets.Value("string"), "image": datasets.Image(),
                                    "label": datasets.ClassLabel(names=["a", "b", "c", "d"]),
                                    "signer": datasets.Value("string")}),
    )
    data = FsDataset("broken", hf, ["a", "b", "c", "d"], "e" * 64)
    before = set(cache_dir("images").iterdir())
    with pytest.raises(DatasetError, match=rf"image '{rows[5]['id']}' cannot be decoded"):
        data.view().images(7)
    assert set(cache_dir("images").iterdir()) == before
