"""ASL, K49 and RWTH builders on tiny fixtures written in the published raw layouts."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import data_root
from fixtures.raw_layouts import SquareLocaliser, make_asl, make_k49, make_rwth
from fsbench.data.hub import prepare_dataset
from fsbench.data.loader import load_prepared
from fsbench.data.prepare.kmnist import KMNIST
from fsbench.data.prepare.rwth import RWTH
from fsbench.errors import DatasetError
from fsbench.protocol.splits import UnseenClass


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------ ASL


def test_asl_prepares_the_published_layout(tmp_path):
    raw = make_asl(tmp_path / "raw")
    (raw / "dataset5" / "A" / "a" / "color_0_0099.png").write_bytes(b"not a png")
    (raw / "dataset5" / "A" / "a" / "notes.txt").write_text("x")
    report = prepare_dataset("asl", raw, tmp_path / "out")
    assert report.counts == {"images": 120, "classes": 24, "signers": 5}
    assert [c["path"] for c in report.corrupt] == ["A/a/color_0_0099.png"]
    assert [s["path"] for s in report.skipped] == ["A/a/notes.txt"]
    data = load_prepared(tmp_path / "out")
    assert data.signer_names == list("ABCDE") and "depth" not in data.extra
    assert data.images(np.arange(2), 64).shape == (2, 64, 64, 3)
    assert data.ids[0] == "A/a/color_0_0000"


def test_asl_with_depth_and_strict(tmp_path):
    from fsbench.data.prepare.asl import ASL

    raw = make_asl(tmp_path / "raw")
    report = ASL(with_depth=True).prepare(raw, tmp_path / "out")
    assert report.counts["images"] == 120
    data = load_prepared(tmp_path / "out")
    depth = data.hf.select_columns(["depth"])[0]["depth"]
    assert depth.size == (64, 64) and depth.mode.startswith("I")
    (raw / "dataset5" / "B" / "c" / "depth_2_0000.png").unlink()
    with pytest.raises(DatasetError) as err:
        ASL(with_depth=True).prepare(raw, tmp_path / "strict", strict=True)
    assert "B/c/color_2_0000.png" in one_line(err) and "depth_2_0000.png is missing" in str(err.value)
    assert not (tmp_path / "strict").exists()


def test_asl_bad_layouts(tmp_path):
    with pytest.raises(DatasetError) as err:
        prepare_dataset("asl", tmp_path, tmp_path / "out")
    assert "expected layout: RAW/dataset5/<signer A-E>" in one_line(err)
    raw = make_asl(tmp_path / "raw")
    for f in (raw / "dataset5" / "E").rglob("*"):
        if f.is_file():
            f.unlink()
    with pytest.raises(DatasetError, match=r"signer\(s\) \['E'\]"):
        prepare_dataset("asl", raw, tmp_path / "out")
    raw = make_asl(tmp_path / "raw2")
    for s in "ABCDE":
        for f in (raw / "dataset5" / s / "q").iterdir():
            f.unlink()
    with pytest.raises(DatasetError, match=r"class\(es\) have no images \(q\)"):
        prepare_dataset("asl", raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ K49


def test_k49_official_files_with_unseen_split(tmp_path):
    raw = make_k49(tmp_path / "raw", data_root())
    with pytest.raises(DatasetError) as err:  # the card expects the full 270,912 images
        prepare_dataset("kmnist", raw, tmp_path / "out")
    assert "found 147 images, the dataset card expects 270912" in one_line(err)
    report = prepare_dataset("kmnist", raw, tmp_path / "out", partial=True)
    assert report.counts == {"images": 147, "classes": 49, "signers": 2}
    data = load_prepared(tmp_path / "out")
    assert data.signer_names == ["test", "train"]
    (fold,) = UnseenClass().folds(data, seed=0)
    unseen = {data.class_names[c] for c in fold.test_classes}
    assert unseen == set("おこそとのほもりゐ")
    assert len(set(data.labels[fold.train].tolist())) == 40
    # pixels are stored losslessly: row train/000 is the first image of the train file
    with np.load(raw / "k49-train-imgs.npz") as z:
        first = z["arr_0"][0]
    i = int(np.flatnonzero(data.ids == "train/00")[0])
    assert np.array_equal(data.images(np.array([i]), 28, "L")[0, :, :, 0], first)


def test_k49_bad_inputs(tmp_path):
    raw = make_k49(tmp_path / "short", drop_labels=3)
    with pytest.raises(DatasetError) as err:
        KMNIST(partial=True).prepare(raw, tmp_path / "out")
    assert "k49-train-labels.npz has 95 labels for 98 images" in one_line(err)
    raw = make_k49(tmp_path / "map")
    (raw / "k49_classmap.csv").write_text("index,codepoint,char\n0,U+3042,あ\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="other classes than the official K49 classmap"):
        KMNIST(partial=True).prepare(raw, tmp_path / "out")
    (raw / "k49-test-imgs.npz").unlink()
    with pytest.raises(DatasetError, match=r"\(missing k49-test-imgs.npz\); expected layout"):
        KMNIST(partial=True).prepare(raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ RWTH


@pytest.fixture(scope="module")
def rwth_raw(tmp_path_factory):
    pytest.importorskip("av", reason="PyAV decodes the RWTH videos: pip install av")
    root = tmp_path_factory.mktemp("rwth")
    return make_rwth(root / "raw", no_hand=("2_5_1_cam1.mpg",))


def test_rwth_middle_frame_hand_crops_and_no_hand_report(rwth_raw, tmp_path):
    (rwth_raw / "1_3_2_cam2.mpg").write_bytes(b"\x00\x01 broken")
    (rwth_raw / "readme.txt").write_text("x")
    loc = SquareLocaliser()
    report = RWTH(localiser=loc).prepare(rwth_raw, tmp_path / "out")
    assert report.no_hand == ["2_5_1_cam1.mpg"]
    assert [c["path"] for c in report.corrupt] == ["1_3_2_cam2.mpg"]
    assert [s["path"] for s in report.skipped] == ["readme.txt"]
    assert report.counts == {"images": 69, "classes": 35, "signers": 2}
    assert loc.calls == 70
    data = load_prepared(tmp_path / "out")
    assert set(data.conditions.tolist()) == {"cam1"}
    i = int(np.flatnonzero(data.ids == "1_27_1_cam1")[0])
    assert data.class_names[data.labels[i]] == "sch"
    crop = data.images(np.array([i]), 64)[0].astype(float)
    # the crop is centred on the hand: its middle is the square's grey level (60 + 5·27)
    assert abs(crop[24:40, 24:40].mean() - (60 + 5 * 27)) < 20
    assert crop[:4, :4].mean() < 20


def test_rwth_needs_a_localiser_and_the_layout(rwth_raw, tmp_path, monkeypatch):
    from fsbench import registry

    monkeypatch.setattr(registry, "names", lambda kind: [])
    with pytest.raises(DatasetError) as err:
        RWTH().prepare(rwth_raw, tmp_path / "out")
    assert "needs a hand localiser" in one_line(err)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="<signer>_<gesture>_<session>_<camera>.mpg"):
        RWTH(localiser=SquareLocaliser()).prepare(tmp_path / "empty", tmp_path / "out")
    assert not (tmp_path / "out").exists()
