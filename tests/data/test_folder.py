"""`fsbench prepare folder`: a user's own image tree, named by a path pattern, becomes a dataset
that `fsbench run --dataset NAME` finds and that runs on every split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsbench.data.hub import prepare_dataset, resolve_dataset
from fsbench.errors import DatasetError
from fsbench.evaluation.runner import RunRequest, run
from fsbench.testing import tiny_image

CLASSES, SIGNERS = ("a", "b", "c", "d", "e", "f"), ("ann", "bob", "cy")


def make_tree(root: Path, classes=CLASSES, signers=SIGNERS, per_cell: int = 4) -> Path:
    for c_i, c in enumerate(classes):
        for s_i, s in enumerate(signers):
            for k in range(per_cell):
                (root / c).mkdir(parents=True, exist_ok=True)
                (root / c / f"{s}_{('top', 'left')[k % 2]}_{k}.png").write_bytes(tiny_image(c_i, s_i, k))
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    raw = make_tree(tmp_path_factory.mktemp("own") / "raw")
    report = prepare_dataset("folder", raw, dataset_name="own", pattern="{label}/{signer}_{condition}_{*}.png",
                             image_size=24)
    return raw, report


def test_prepare_reads_classes_signers_and_conditions_from_the_paths(own):
    raw, report = own
    assert report.counts == {"images": 72, "classes": 6, "signers": 3}
    assert report.skipped == [{"path": "notes.txt", "reason": "does not match '{label}/{signer}_{condition}_{*}.png'"}]
    data = resolve_dataset("own")  # by NAME, as `fsbench run --dataset own` finds it
    assert data.name == "own" and data.revision == "local" and data.content_hash == report.content_hash
    assert data.class_names == list(CLASSES) and data.card.signers == SIGNERS
    assert data.card.condition_column == "condition" and "{label}/{signer}" in data.card.raw_layout
    assert sorted(set(data.hf["condition"])) == ["left", "top"]


@pytest.mark.parametrize("split, shots", [("leave-signer-out", [0, 1]), ("same-signer", [1]), ("unseen-class", [1])])
def test_a_prepared_folder_runs_on_every_split(own, split, shots):
    results = run(RunRequest("pixels", "own", split, shots, 2, 0))
    assert results["dataset"]["name"] == "own" and results["dataset"]["revision"] == "local"
    assert results["dataset"]["content_hash"] == own[1].content_hash
    assert set(results["metrics"]) == {f"S={s}" for s in shots}


@pytest.mark.parametrize("pattern, needle", [
    ("{label}/{signer}_{*}.jpg", "no file under"),
    ("{label}/{*}.png", "lacks {signer}"),
    ("{signer}/{*}.png", "lacks {label}"),
    ("{label}/{who}_{*}.png", "unknown field {who}"),
])
def test_bad_patterns_are_one_line_errors(own, pattern, needle):
    with pytest.raises(DatasetError, match=needle) as err:
        prepare_dataset("folder", own[0], dataset_name="bad", pattern=pattern)
    assert "\n" not in str(err.value)


def test_a_class_from_one_signer_only_is_refused(tmp_path):
    raw = make_tree(tmp_path / "raw", classes=("a", "b"), signers=("ann", "bob"))
    for f in (raw / "b").glob("bob_*"):
        f.unlink()
    with pytest.raises(DatasetError, match="class 'b' has images from one signer only \\('ann'\\)"):
        prepare_dataset("folder", raw, dataset_name="lonely", pattern="{label}/{signer}_{*}.png")


def test_unreadable_images_are_named_and_strict_aborts(tmp_path):
    raw = make_tree(tmp_path / "raw", classes=("a", "b"), signers=("ann", "bob"))
    (raw / "a" / "ann_top_9.png").write_bytes(b"not a png")
    cli = [sys.executable, "-c", "from fsbench.cli import main; main()", "prepare", "folder", "--raw", str(raw),
           "--name", "broken", "--pattern", "{label}/{signer}_{*}.png", "--out", str(tmp_path / "out")]
    proc = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "unreadable: a/ann_top_9.png" in proc.stdout
    assert json.loads((tmp_path / "out" / "fsbench.json").read_text())["counts"]["images"] == 16
    proc = subprocess.run([*cli, "--strict"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "a/ann_top_9.png is unreadable" in proc.stderr.splitlines()[-1]


def test_folder_options_belong_to_folder_only():
    proc = subprocess.run([sys.executable, "-c", "from fsbench.cli import main; main()", "prepare", "massey",
                           "--pattern", "{label}/{signer}.png"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--pattern: options of `fsbench prepare folder` only" in proc.stderr


def test_colour_hands_default_to_the_nets_224_px_and_grey_to_128():
    from fsbench.data.prepare.folder import Folder

    assert Folder(dataset_name="mine").image_size == 224
    assert Folder(dataset_name="mine", mode="L").image_size == 128
    assert Folder(dataset_name="mine", image_size=96).image_size == 96
