"""`fsbench predict`: the deployment the benchmark measures, on your own images.

A new signer enrols S images per letter (a support folder laid out `<label>/<file>`); every new
image is embedded by a fitted method and classified against them by the method's own classifier
(`method.make_classifier()`), exactly as in a benchmark episode. Both folders are encoded the way
`fsbench prepare` encodes the training data (same size, mode and padding) and stored in the same
format, so the method sees what it saw in the benchmark.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fsbench.api import LowShotClassifier, MasksInvalid, Method
from fsbench.data.dataset import FsDataset
from fsbench.errors import DatasetError, FsbenchError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
NEW_SIGNER = "new-signer"


def image_files(root: Path) -> list[Path]:
    """Every image file under `root` (by suffix, any case), sorted; hidden files skipped."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def support_files(root: Path, shots: int | None) -> list[tuple[Path, str]]:
    """(file, label) for `<label>/<file>`; with `shots`, the first S files of each label."""
    if not root.is_dir():
        raise DatasetError(f"--support {root} is not a folder; lay it out as <label>/<image> (one folder per letter)")
    items = [(p, p.relative_to(root).parts[0]) for p in image_files(root) if len(p.relative_to(root).parts) == 2]
    if shots is not None:  # the first S files of each label, by name
        rank: Counter[str] = Counter()
        first = []
        for p, c in items:
            rank[c] += 1
            if rank[c] <= shots:
                first.append((p, c))
        items = first
    labels = sorted({c for _, c in items})
    if len(labels) < 2:
        raise DatasetError(f"--support {root} holds {len(labels)} labelled folder(s) with images; enrol at least two "
                           "letters as <label>/<image> (e.g. a/1.jpg, b/1.jpg)")
    return items


def encode_as_dataset(name: str, items: list[tuple[Path, str]], root: Path, like: FsDataset, tmp: Path) -> FsDataset:
    """Images encoded at `like`'s stored size and mode, written and loaded as a prepared dataset."""
    from fsbench.data.builder import encode_files
    from fsbench.data.cards import DatasetCard
    from fsbench.data.loader import load_prepared
    from fsbench.data.records import PrepareReport
    from fsbench.data.store import write_prepared

    size = like.card.image_size if like.card is not None else 64
    mode = like.hf[0]["image"].mode  # what prepare stored: RGB or L
    rows = []
    for (path, image, error), (_, label) in zip(encode_files([p for p, _ in items], size, mode), items):
        if image is None:
            raise DatasetError(f"{path} is unreadable ({error}); remove or replace it")
        rows.append({"id": path.relative_to(root).as_posix(), "label": label, "signer": NEW_SIGNER, "image": image})
    card = DatasetCard(name=name, title=f"fsbench predict: {root}", description=f"images from {root}",
                       license="the owner's", citation="none", classes=tuple(sorted({c for _, c in items})),
                       signers=(NEW_SIGNER,), raw_layout=str(root), image_size=size)
    write_prepared(rows, tmp / name, card, {}, PrepareReport(dataset=name, raw=str(root)))
    return load_prepared(tmp / name, name)


def _embed(method: Method, data: FsDataset) -> tuple[torch.Tensor, np.ndarray]:
    view = data.view()
    emb = method.embed(view).detach().float().cpu()
    valid = np.asarray(method.valid_mask(view), bool) if isinstance(method, MasksInvalid) else np.ones(len(view), bool)
    return emb, valid


def predict(method: Method, like: FsDataset, support_dir: Path, images_dir: Path, shots: int | None = None,
            top: int = 2) -> dict[str, Any]:
    """Enrol the support folder, classify every image under `images_dir`: top-`top` labels and scores."""
    if not images_dir.is_dir():
        raise DatasetError(f"--images {images_dir} is not a folder of images")
    queries = [(p, "query") for p in image_files(images_dir)]
    if not queries:
        raise DatasetError(f"--images {images_dir} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    with tempfile.TemporaryDirectory(prefix="fsbench-predict-") as tmp:
        support = encode_as_dataset("support", support_files(support_dir, shots), support_dir, like, Path(tmp))
        images = encode_as_dataset("images", queries, images_dir, like, Path(tmp))
        s_emb, s_ok = _embed(method, support)
        q_emb, q_ok = _embed(method, images)
    kept = Counter(support.class_names[i] for i in support.labels[s_ok])
    lost = [c for c in support.class_names if not kept[c]]
    if lost:
        raise FsbenchError(f"{method.name} found no hand in any support image of {lost[:5]}; enrol clearer images "
                           "of those letters")
    clf = method.make_classifier().fit(s_emb[s_ok], torch.from_numpy(support.labels[s_ok]))
    scores = clf.scores(q_emb)
    k = min(top, scores.shape[1])
    best = scores.topk(k, dim=1)
    predictions = []
    for i, image_id in enumerate(images.ids):
        ranked = [{"label": support.class_names[int(clf.classes_[j])], "score": round(float(v), 6)}
                  for v, j in zip(best.values[i], best.indices[i])] if q_ok[i] else []
        predictions.append({"image": str(image_id), "detected": bool(q_ok[i]), "top": ranked})
    return {"method": method.describe(), "support": {"folder": str(support_dir), "per_class": dict(sorted(kept.items()))},
            "images": str(images_dir), "score": getattr(clf, "score_meaning", LowShotClassifier.score_meaning),
            "predictions": predictions}
