"""A tiny real dataset for the baselines: 8 Omniglot characters × 20 drawers (the MIT-licensed
zip shipped inside fsbench), drawers grouped into 4 "signers" of 5 images per class."""

from __future__ import annotations

import hashlib
import zipfile

import datasets
import pytest

from fsbench.data.dataset import FsDataset
from fsbench.paths import embedded

TINY = {
    "backbone": "conv4", "width": 8, "size": 28, "mode": "L", "episodes": 6,
    "train_ways": 4, "train_shots": 2, "train_queries": 2,
}
TINY_CLS = {"backbone": "conv4", "width": 8, "size": 28, "mode": "L", "epochs": 2, "batch_size": 16}


def _tiny_omniglot() -> FsDataset:
    zpath = embedded("omniglot") / "images_background_small1.zip"
    with zipfile.ZipFile(zpath) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".png") and "/Balinese/" in n)
        chars = sorted({n.split("/")[2] for n in names})[:8]
        rows = {"id": [], "image": [], "label": [], "signer": []}
        h = hashlib.sha256()
        for n in names:
            char = n.split("/")[2]
            if char not in chars:
                continue
            drawer = int(n.rsplit("_", 1)[1][:2])
            data = z.read(n)
            h.update(data)
            rows["id"].append(n.rsplit("/", 1)[1][:-4])
            rows["image"].append({"bytes": data, "path": None})
            rows["label"].append(chars.index(char))
            rows["signer"].append(f"s{(drawer - 1) // 5}")
    features = datasets.Features({
        "id": datasets.Value("string"), "image": datasets.Image(),
        "label": datasets.Value("int64"), "signer": datasets.Value("string"),
    })
    hf = datasets.Dataset.from_dict(rows, features=features)
    return FsDataset("tiny-omniglot", hf, chars, h.hexdigest())


@pytest.fixture(scope="session")
def tiny() -> FsDataset:
    return _tiny_omniglot()


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FSBENCH_QUIET", "1")
