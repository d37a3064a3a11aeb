"""Real hand images (hand-keypoints/ in FSBENCH_DATA) and a tiny prepared dataset made of them."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from fsbench.paths import data_root

HAND_SOURCES = ("onehand10k", "freihand")


def hand_images() -> list[tuple[np.ndarray, np.ndarray, list[float]]]:
    """(uint8 RGB image, (21, 3) annotated keypoints, bbox) for every onehand10k/freihand sample."""
    root = data_root() / "hand-keypoints"
    if not root.exists():
        pytest.skip(f"real hand images not found under {root}; set FSBENCH_DATA")
    out = []
    for src in HAND_SOURCES:
        doc = json.loads((root / src / f"test_{src}.json").read_text())
        anns = {a["image_id"]: a for a in doc["annotations"]}
        for im in sorted(doc["images"], key=lambda i: i["file_name"]):
            a = anns[im["id"]]
            rgb = np.asarray(Image.open(root / src / im["file_name"]).convert("RGB"))
            out.append((rgb, np.asarray(a["keypoints"], np.float32).reshape(21, 3), a["bbox"]))
    return out


@pytest.fixture(scope="session")
def real_hands():
    return hand_images()


@pytest.fixture(scope="session")
def hand_dataset(tmp_path_factory):
    """3 signers × 2 classes × (2 real hands + 1 black image): 6 images MediaPipe cannot embed."""
    from fsbench.data.records import PrepareReport
    from fsbench.data.cards import DatasetCard
    from fsbench.data.loader import load_prepared
    from fsbench.data.store import write_prepared

    hands = [im for im, _, _ in hand_images()][:12]
    rows, k = [], 0
    for s in ("s1", "s2", "s3"):
        for c in ("a", "b"):
            for j in range(3):
                im = hands[k] if j < 2 else np.zeros((128, 128, 3), np.uint8)
                k += j < 2
                buf = io.BytesIO()
                Image.fromarray(im).resize((128, 128)).save(buf, format="PNG")
                rows.append({"id": f"{s}-{c}-{j}", "label": c, "signer": s, "image": buf.getvalue()})
    card = DatasetCard(
        name="hands", title="Real hands + blanks", description="test fixture", license="research",
        citation="none", classes=("a", "b"), signers=("s1", "s2", "s3"), raw_layout="synthetic",
        image_size=128,
    )
    out = tmp_path_factory.mktemp("hands") / "hands"
    # the black images are the same picture under every signer, on purpose
    write_prepared(rows, out, card, {}, PrepareReport(dataset="hands", raw="synthetic"), allow_duplicates=True)
    return load_prepared(out)
