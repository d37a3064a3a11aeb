"""Massey and Omniglot prepared from the real files: counts, hashes, split manifests, resolve."""

from __future__ import annotations

import datasets

from conftest import need_real
from fsbench.data.hub import prepare_dataset
from fsbench.data.loader import load_prepared
from fsbench.data.store import content_hash, image_digest
from fsbench.protocol.splits import LeaveSignerOut, UnseenClass, split_manifest


def manifests(data) -> list[str]:
    out = []
    for split in (LeaveSignerOut(), UnseenClass()):
        out.append(split_manifest(data, split.name, 0, split.folds(data, 0))["sha256"])
    return out


def stored_hash(data) -> str:
    """The content hash recomputed from the stored parquet rows (an independent path)."""
    hf = data.hf.cast_column("image", datasets.Image(decode=False))
    cond = data.conditions if data.conditions is not None else [""] * len(data)
    return content_hash(
        (i, data.class_names[lab], s, str(c), image_digest(cell["bytes"]))
        for i, lab, s, c, cell in zip(data.ids, data.labels, data.signers, cond, hf["image"])
    )


def test_massey_counts_conditions_and_hash(massey_prepared):
    report, out = massey_prepared
    assert report.counts == {"images": 2515, "classes": 36, "signers": 5}
    assert report.corrupt == [] and report.skipped == []
    assert report.per_signer == {"1": 900, "2": 895, "3": 180, "4": 180, "5": 360}
    data = load_prepared(out)
    assert data.signer_names == ["1", "2", "3", "4", "5"]
    assert sorted(set(data.conditions.tolist())) == ["bot", "dif", "left", "right", "top"]
    first = data.hf[0]["image"]
    assert first.size == (128, 128) and first.mode == "RGB"
    assert stored_hash(data) == report.content_hash == data.content_hash
    assert manifests(data) == manifests(load_prepared(out))


def test_omniglot_counts_unseen_and_stable_between_prepares(omniglot_resolved, tmp_path):
    first = omniglot_resolved
    assert (len(first), len(first.class_names), len(first.signer_names)) == (4840, 242, 20)
    assert set(first.extra["alphabet"].tolist()) >= {"Greek", "Tagalog"}
    (fold,) = UnseenClass().folds(first, 0)
    unseen_alphabets = {first.class_names[c].split("/")[0] for c in fold.test_classes}
    assert unseen_alphabets == {"Japanese_(katakana)", "Sanskrit", "Tagalog"}
    assert len(fold.test_classes) == 106
    report = prepare_dataset("omniglot", need_real("omniglot"), tmp_path / "again")
    assert report.duplicates == 1000  # Greek and Latin, 20 drawers each, read twice
    second = load_prepared(tmp_path / "again")
    assert second.content_hash == first.content_hash
    assert manifests(second) == manifests(first)


def test_massey_224_is_a_new_revision_and_128_stays_the_boards(massey_prepared, tmp_path):
    import json
    from pathlib import Path

    import numpy as np

    from fsbench.data.prepare.massey import CARD, CARD_224

    small = load_prepared(massey_prepared[1])
    boards = [json.loads(p.read_text()) for p in (Path(__file__).parents[2] / "leaderboards").glob("massey__*.json")]
    assert boards and {b["dataset"]["content_hash"] for b in boards} == {small.content_hash}  # committed boards verify
    report = prepare_dataset("massey-224", need_real("massey"), tmp_path / "massey-224")
    big = load_prepared(tmp_path / "massey-224")
    assert (CARD.image_size, CARD_224.image_size) == (128, 224) and big.card == CARD_224
    assert report.counts == {"images": 2515, "classes": 36, "signers": 5} and big.hf[0]["image"].size == (224, 224)
    order = np.argsort(big.ids)
    assert np.array_equal(big.ids[order], np.sort(small.ids))
    assert np.array_equal(big.labels[order], small.labels[np.argsort(small.ids)])
    assert big.content_hash != small.content_hash
    assert manifests(big) == manifests(small)  # the same rows: the same folds, so rows compare across revisions
