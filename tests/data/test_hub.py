"""The shared writer/loader: format, content hash, atomicity, malformed folders, resolve, hub."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from fixtures.raw_layouts import tiny_rows
from fsbench import registry
from fsbench.data.records import PrepareReport
from fsbench.data.cards import DatasetCard
from fsbench.data.hub import load_hub, resolve_dataset
from fsbench.data.loader import load_prepared
from fsbench.data.store import content_hash, image_digest, write_prepared
from fsbench.errors import DatasetError

CARD = DatasetCard(
    name="tiny", title="Tiny", description="d", license="cc0-1.0", citation="c",
    classes=("a", "b", "c", "d"), signers=("s1", "s2", "s3"), raw_layout="synthetic",
    image_size=24, condition_column="view", expected={"images": 48, "classes": 4, "signers": 3},
)


def write(out: Path, rows=None, card=CARD) -> PrepareReport:
    report = PrepareReport(dataset="tiny", raw="synthetic")
    return write_prepared(tiny_rows() if rows is None else rows, out, card, {}, report)


def test_roundtrip_columns_card_and_hash(tmp_path):
    report = write(tmp_path / "tiny")
    out = tmp_path / "tiny"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "data", "fsbench.json"]
    assert [p.name for p in (out / "data").iterdir()] == ["train-00000-of-00001.parquet"]
    meta = json.loads((out / "fsbench.json").read_text())
    assert meta["content_hash"] == report.content_hash and meta["counts"]["images"] == 48
    head = (out / "README.md").read_text().split("---")[1]
    yml = yaml.safe_load(head)
    assert yml["license"] == "cc0-1.0" and yml["pretty_name"] == "Tiny"
    assert yml["configs"][0]["data_files"][0]["path"] == "data/train-*"
    assert yml["fsbench"]["content_hash"] == report.content_hash
    assert [f["name"] for f in yml["dataset_info"]["features"]] == ["id", "image", "label", "signer", "condition"]

    data = load_prepared(out)
    assert len(data) == 48 and data.class_names == list(CARD.classes)
    assert data.content_hash == report.content_hash
    assert sorted(data.ids.tolist()) == data.ids.tolist()  # stored in id order
    assert set(data.conditions.tolist()) == {"top", "left"}
    # the stored hash is the hash of what is stored
    hf = data.hf.cast_column("image", __import__("datasets").Image(decode=False))
    names = data.class_names
    recs = [
        (r["id"], names[r["label"]], r["signer"], r["condition"], image_digest(r["image"]["bytes"]))
        for r in hf
    ]
    assert content_hash(recs) == report.content_hash
    assert data.images(np.arange(3), 24).shape == (3, 24, 24, 3)


def test_hash_ignores_row_order_but_not_content(tmp_path):
    rows = tiny_rows()
    a = write(tmp_path / "a", rows).content_hash
    b = write(tmp_path / "b", rows[::-1]).content_hash
    changed = [dict(r) for r in rows]
    changed[0]["signer"], changed[1]["signer"] = changed[1]["signer"], changed[0]["signer"]
    changed[5]["image"] = rows[6]["image"]
    c = write(tmp_path / "c", changed).content_hash
    assert a == b and a != c


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda rows: [r for r in rows if r["label"] != "c"], "have no images (c)"),
        (lambda rows: [r for r in rows if r["signer"] != "s2"], "signer(s) ['s2']"),
        (lambda rows: rows[:-1], "found 47 images, the dataset card expects 48"),
        (lambda rows: rows + [dict(rows[0])], "duplicate row id"),
        (lambda rows: rows + [{**rows[0], "id": "x", "label": "zz"}], "not in the dataset card"),
        (lambda rows: [], "no images found"),
    ],
)
def test_bad_rows_are_one_line_errors_and_write_nothing(tmp_path, mutate, message):
    with pytest.raises(DatasetError) as err:
        write(tmp_path / "tiny", mutate(tiny_rows()))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_folder(tmp_path):
    out = tmp_path / "tiny"
    first = write(out).content_hash

    def exploding():
        yield from tiny_rows()[:10]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write(out, exploding())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]  # no temp folder left
    assert load_prepared(out).content_hash == first


def test_rewrite_replaces_atomically(tmp_path):
    out = tmp_path / "tiny"
    write(out)
    rows = tiny_rows()
    rows[0]["image"] = rows[1]["image"]
    second = write(out, rows).content_hash
    assert load_prepared(out).content_hash == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


def test_malformed_folders_name_the_fix(tmp_path):
    out = tmp_path / "tiny"
    with pytest.raises(DatasetError, match="does not exist.*fsbench prepare tiny"):
        load_prepared(out)
    write(out)
    (out / "fsbench.json").write_text("{not json")
    with pytest.raises(DatasetError, match="fsbench.json is corrupt.*fsbench prepare"):
        load_prepared(out)
    write(out)
    for shard in (out / "data").iterdir():
        shard.unlink()
    with pytest.raises(DatasetError, match=r"lacks data/train-\*.parquet.*fsbench prepare"):
        load_prepared(out)
    write(out)
    (out / "fsbench.json").unlink()
    with pytest.raises(DatasetError, match="lacks fsbench.json"):
        load_prepared(out)


def test_resolve_path_and_unknown_names(tmp_path, monkeypatch):
    write(tmp_path / "tiny")
    assert len(resolve_dataset(str(tmp_path / "tiny"))) == 48
    with pytest.raises(Exception, match="no dataset named 'masey'.*massey"):
        resolve_dataset("masey")
    with pytest.raises(DatasetError, match="hub:owner/repo@revision"):
        resolve_dataset("hub:norepo")


def test_resolve_unprepared_without_raw_names_prepare_command(tmp_path, monkeypatch):
    monkeypatch.setenv("FSBENCH_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "home"))
    with pytest.raises(DatasetError) as err:
        resolve_dataset("asl")
    assert "fsbench prepare asl --raw PATH" in str(err.value) and "\n" not in str(err.value)


def test_load_hub_offline_and_uncached_names_prepare(tmp_path, monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(DatasetError) as err:
        load_hub("someone/fsbench-massey", "0123abc", name="massey")
    msg = str(err.value)
    assert "'massey'" in msg and "HF_HUB_OFFLINE" in msg
    assert "fsbench prepare massey --raw PATH" in msg and "\n" not in msg


def test_every_registered_card_is_valid():
    builders = registry.load_all("datasets")
    assert {"massey", "omniglot", "asl", "rwth", "kmnist"} <= set(builders)
    for name, cls in builders.items():
        assert cls.card.name == name
        assert cls.card.validate() == [], name
