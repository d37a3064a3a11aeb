"""`fsbench predict`: a new signer's support folder is enrolled, new images are classified against it
with the method's own classifier, on the tiny fixture (pixels, and one trained method)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsbench.deploy.fit import fit_fold
from fsbench.deploy.predict import predict
from fsbench.errors import DatasetError
from fsbench.testing import TINY_CLASSES, tiny_image

NEW_SIGNER = 1  # images drawn like fixture signer s2, the test signer of leave-signer-out fold 1


def write_images(root: Path, ks: range, labelled: bool = True) -> Path:
    for c_i, c in enumerate(TINY_CLASSES):
        for k in ks:
            path = root / c / f"{k}.png" if labelled else root / f"{c}-{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tiny_image(c_i, NEW_SIGNER, 100 + k))
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    return write_images(root / "support", range(2)), write_images(root / "images", range(2, 5), labelled=False)


def test_pixels_enrols_a_new_signer_and_classifies_top2_with_scores(tiny_dir, folders):
    method, data, fold = fit_fold("pixels", str(tiny_dir), "leave-signer-out", 1)
    doc = predict(method, data, *folders, shots=1)
    assert doc["support"]["per_class"] == {c: 1 for c in TINY_CLASSES}
    assert len(doc["predictions"]) == 3 * len(TINY_CLASSES)
    right = 0
    for p in doc["predictions"]:
        assert p["detected"] and len(p["top"]) == 2 and p["top"][0]["score"] >= p["top"][1]["score"]
        assert p["top"][0]["label"] != p["top"][1]["label"]
        right += p["top"][0]["label"] == p["image"].split("-")[0]
    assert right / len(doc["predictions"]) >= 0.75  # pixels reads the bars; chance is 0.25
    assert "not a probability" in doc["score"]  # each classifier says what its scale is


def test_a_trained_method_predicts_through_its_own_classifier(tiny_dir, folders):
    pytest.importorskip("fsbench_fewshot_baselines")
    config = {"backbone": "conv4", "width": 8, "size": 24, "mode": "RGB", "episodes": 4,
              "train_ways": 3, "train_shots": 1, "train_queries": 1}
    method, data, _ = fit_fold("protonet", str(tiny_dir), "leave-signer-out", 1, config)
    doc = predict(method, data, *folders)
    assert doc["method"]["name"] == "protonet" and doc["support"]["per_class"] == {c: 2 for c in TINY_CLASSES}
    assert doc["score"].startswith("minus the squared Euclidean distance")  # protonet's negative scores, explained
    labels = set(TINY_CLASSES)
    for p in doc["predictions"]:
        assert {t["label"] for t in p["top"]} <= labels and p["top"][0]["score"] >= p["top"][1]["score"]


def test_cli_from_a_results_file_prints_json(tiny_dir, folders, tmp_path):
    cli = [sys.executable, "-c", "from fsbench.cli import main; main()"]
    results = tmp_path / "r.json"
    run = subprocess.run([*cli, "run", "-m", "pixels", "-d", str(tiny_dir), "-s", "leave-signer-out", "--shots", "1",
                          "--episodes", "1", "--out", str(results)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    proc = subprocess.run([*cli, "predict", "--from", str(results), "--dataset", str(tiny_dir), "--support",
                           str(folders[0]), "--images", str(folders[1]), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["fitted_on"]["fold"] == "signer=s1" and len(doc["predictions"]) == 12
    table = subprocess.run([*cli, "predict", "--from", str(results), "--dataset", str(tiny_dir), "--support",
                            str(folders[0]), "--images", str(folders[1])], capture_output=True, text=True, timeout=300)
    assert table.returncode == 0 and "a-2.png" in table.stdout and "top-2" in table.stdout


def test_bad_folders_are_one_line_errors(tiny_dir, tmp_path, folders):
    method, data, _ = fit_fold("pixels", str(tiny_dir), "leave-signer-out", 0)
    one = write_images(tmp_path / "one", range(1))
    for extra in TINY_CLASSES[1:]:
        for f in (one / extra).iterdir():
            f.unlink()
    with pytest.raises(DatasetError, match="enrol at least two letters"):
        predict(method, data, one, folders[1])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no image files"):
        predict(method, data, folders[0], tmp_path / "empty")
    bad = write_images(tmp_path / "bad", range(1), labelled=False)
    (bad / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="broken.png is unreadable"):
        predict(method, data, folders[0], bad)
