"""Kuzushiji-49 (Clanuwat et al. 2018) from its official npz files.

No writer ids are published, so the `signer` column records where an image came from: "train"
or "test" (the official split). Cross-signer protocols on K49 therefore mean "train on the
official train half, test on the test half"; the intended protocol is the unseen-class split.

Unseen classes (the thesis trains on 40 characters and tests on the other 9 without naming
them): class indices 4, 9, 14, …, 44 — every fifth class of the official order. That is one
character from each row of the gojūon table (お こ そ と の ほ も り ゐ), so the unseen set
spans the syllabary instead of clustering at the tail of the order, and it is a fixed rule
anyone can recompute.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from fsbench.data.builder import DatasetBuilder, PrepareReport, Row
from fsbench.data.cards import DatasetCard
from fsbench.errors import DatasetError
from fsbench.progress import progress_bar

#: the 49 characters of k49_classmap.csv, in index order (46 hiragana in gojūon order,
#: the archaic ゐ/ゑ, を, ん and the iteration mark ゝ)
CHARS = tuple(
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわゐゑをんゝ"
)
assert len(CHARS) == 49
UNSEEN = tuple(CHARS[i] for i in range(4, 49, 5))
SPLITS = ("train", "test")
FILES = ("k49-train-imgs.npz", "k49-train-labels.npz", "k49-test-imgs.npz", "k49-test-labels.npz")

CARD = DatasetCard(
    name="kmnist",
    title="Kuzushiji-49",
    description=(
        "270,912 28x28 grayscale images of 49 cursive (kuzushiji) hiragana characters from "
        "classical Japanese books, in the official train (232,365) / test (38,547) split."
    ),
    license="cc-by-sa-4.0",
    citation=(
        "T. Clanuwat, M. Bober-Irizar, A. Kitamoto, A. Lamb, K. Yamamoto, D. Ha. Deep Learning "
        "for Classical Japanese Literature. NeurIPS ML4CD Workshop 2018, arXiv:1812.01718."
    ),
    classes=CHARS,
    signers=SPLITS,
    expected={"images": 270912, "classes": 49, "signers": 2},
    raw_layout=(
        "RAW/k49-train-imgs.npz, k49-train-labels.npz, k49-test-imgs.npz, k49-test-labels.npz "
        "(key arr_0; images uint8 (N,28,28), labels int (N,)) and RAW/k49_classmap.csv "
        "(columns index,codepoint,char)"
    ),
    default_raw="k49",
    image_size=28,
    unseen_classes=UNSEEN,
    notes=(
        "signer = 'train'/'test' (official origin; K49 publishes no writer ids). Unseen classes: "
        "indices 4,9,...,44 = " + " ".join(UNSEEN) + " (one per gojūon row), 40 seen. "
        "Classes are very imbalanced (some have a few hundred images)."
    ),
)


def _load_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path) as z:
            if "arr_0" not in z:
                raise DatasetError(f"kmnist: {path.name} has no key 'arr_0'; it is not an official K49 file")
            return z["arr_0"]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"kmnist: {path} cannot be read ({exc}); download it again") from None


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


class KMNIST(DatasetBuilder):
    card: ClassVar[DatasetCard] = CARD

    def check_layout(self, raw: Path) -> Path:
        missing = [f for f in (*FILES, "k49_classmap.csv") if not (raw / f).is_file()]
        if missing:
            raise self.layout_error(raw, f"missing {', '.join(missing)}")
        self._check_classmap(raw / "k49_classmap.csv")
        return raw

    def _check_classmap(self, path: Path) -> None:
        try:
            with path.open(encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            chars = tuple(r["char"] for r in sorted(rows, key=lambda r: int(r["index"])))
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            raise DatasetError(
                f"kmnist: {path} is not the official classmap (columns index,codepoint,char): {exc}"
            ) from None
        if chars != CHARS:
            raise DatasetError(
                f"kmnist: {path} lists other classes than the official K49 classmap; "
                "use the k49_classmap.csv published with the npz files"
            )

    def rows(self, root: Path, report: PrepareReport, strict: bool) -> Iterator[Row]:
        for split in SPLITS:
            images = _load_npz(root / f"k49-{split}-imgs.npz")
            labels = _load_npz(root / f"k49-{split}-labels.npz")
            if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
                raise DatasetError(
                    f"kmnist: k49-{split}-imgs.npz holds {images.dtype} {images.shape}, "
                    "expected uint8 (N, 28, 28)"
                )
            if labels.shape != (len(images),):
                raise DatasetError(
                    f"kmnist: k49-{split}-labels.npz has {labels.size} labels for "
                    f"{len(images)} images in k49-{split}-imgs.npz; the two files must match"
                )
            bad = np.flatnonzero((labels < 0) | (labels >= len(CHARS)))
            if bad.size:
                raise DatasetError(
                    f"kmnist: k49-{split}-labels.npz has label {int(labels[bad[0]])} at row "
                    f"{int(bad[0])}; labels must be 0..48"
                )
            width = len(str(len(images)))
            with progress_bar() as bar:
                task = bar.add_task(f"preparing kmnist ({split})", total=len(images))
                for i in range(len(images)):
                    bar.advance(task)
                    yield {
                        "id": f"{split}/{i:0{width}d}",
                        "label": CHARS[int(labels[i])],
                        "signer": split,
                        "image": _png(images[i]),
                    }
