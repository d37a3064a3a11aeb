"""Tiny configs and a tiny real dataset shared by the fewshot-baselines tests."""

from __future__ import annotations

import hashlib
import zipfile

import datasets

from fsbench.data.dataset import FsDataset
from fsbench.paths import embedded

# one thread: two OpenMP threads on a busy 2-core machine spin against each other (3-7x slower)
TINY = {
    "backbone": "conv4", "width": 8, "size": 28, "mode": "L", "episodes": 6,
    "train_ways": 4, "train_shots": 2, "train_queries": 2, "threads": 1,
}
TINY_CLS = {"backbone": "conv4", "width": 8, "size": 28, "mode": "L", "epochs": 2, "batch_size": 16, "threads": 1}


def tiny_omniglot() -> FsDataset:
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
