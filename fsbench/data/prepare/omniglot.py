"""Omniglot "background small" sets (Lake et al. 2015), read straight from the published zips.

Both zips hold Greek and Latin byte for byte, so identical files are merged: 242 characters ×
20 drawers = 4840 images. The class is "<Alphabet>/<characterNN>", the signer is the drawer.

Unseen-class split: the characters of the alphabets that only small2 contains
(Japanese_(katakana), Sanskrit, Tagalog). Training on small1's alphabets and testing on
alphabets never seen in any form is Omniglot's own one-shot protocol (new alphabets, not just
new characters of known ones), and it follows how the two zips were published.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from fsbench.data.builder import IMAGE_ERRORS, DatasetBuilder, PrepareReport, Row, read_image
from fsbench.data.cards import DatasetCard
from fsbench.errors import DatasetError
from fsbench.progress import progress_bar

ZIPS = ("images_background_small1", "images_background_small2")
#: characters per alphabet, in the order of the published zips
ALPHABETS: dict[str, int] = {
    "Balinese": 24,
    "Early_Aramaic": 22,
    "Greek": 24,
    "Korean": 40,
    "Latin": 26,
    "Japanese_(katakana)": 47,
    "Sanskrit": 42,
    "Tagalog": 17,
}
SMALL2_ONLY = ("Japanese_(katakana)", "Sanskrit", "Tagalog")
CLASSES = tuple(f"{a}/character{i:02d}" for a, n in ALPHABETS.items() for i in range(1, n + 1))
UNSEEN = tuple(c for c in CLASSES if c.split("/")[0] in SMALL2_ONLY)

CARD = DatasetCard(
    name="omniglot",
    title="Omniglot (background small 1 + 2)",
    description=(
        "Handwritten characters of 8 alphabets, each drawn once by 20 different people "
        "(Lake et al. 2015): the two 'background small' sets merged, 242 characters x 20 "
        "drawers. Drawers play the role of signers."
    ),
    license="mit",
    citation=(
        "B. M. Lake, R. Salakhutdinov, J. B. Tenenbaum. Human-level concept learning through "
        "probabilistic program induction. Science 350 (2015) 1332-1338."
    ),
    classes=CLASSES,
    signers=tuple(f"{i:02d}" for i in range(1, 21)),
    expected={"images": 4840, "classes": 242, "signers": 20},
    raw_layout=(
        "RAW/images_background_small1.zip and RAW/images_background_small2.zip as published in "
        "brendenlake/omniglot, each holding <zipname>/<Alphabet>/<characterNN>/<charid>_<drawer>.png"
    ),
    default_raw="embedded:omniglot",
    image_size=28,
    foreground="dark",
    unseen_classes=UNSEEN,
    notes=(
        "Greek and Latin appear byte-identical in both zips and are merged. Unseen classes are "
        "the 106 characters of Japanese_(katakana), Sanskrit and Tagalog (the alphabets only "
        "small2 holds): train on small1's alphabets, test on never-seen alphabets. Stored as "
        "28x28 grayscale (mode L); the column `alphabet` names each character's alphabet."
    ),
)


class Omniglot(DatasetBuilder):
    card: ClassVar[DatasetCard] = CARD

    def features(self):
        import datasets

        return {"alphabet": datasets.Value("string")}

    def check_layout(self, raw: Path) -> Path:
        missing = [z for z in ZIPS if not (raw / f"{z}.zip").is_file()]
        if missing:
            raise self.layout_error(raw, f"missing {', '.join(m + '.zip' for m in missing)}")
        return raw

    def rows(self, root: Path, report: PrepareReport, strict: bool) -> Iterator[Row]:
        seen: dict[str, bytes] = {}
        for zname in ZIPS:
            try:
                zf = zipfile.ZipFile(root / f"{zname}.zip")
            except (zipfile.BadZipFile, OSError) as exc:
                raise DatasetError(
                    f"omniglot: {root / zname}.zip is not a readable zip ({exc}); download it again"
                ) from None
            with zf, progress_bar() as bar:
                members = [m for m in zf.infolist() if not m.is_dir()]
                task = bar.add_task(f"preparing omniglot ({zname})", total=len(members))
                for info in members:
                    bar.advance(task)
                    yield from self._member(zf, zname, info, seen, report, strict)

    def _member(self, zf, zname, info, seen, report, strict) -> Iterator[Row]:
        parts = info.filename.split("/")
        where = f"{zname}.zip:{info.filename}"
        if len(parts) != 4 or parts[0] != zname or not parts[3].endswith(".png"):
            report.skipped.append({"path": where, "reason": "not <Alphabet>/<characterNN>/<id>_<drawer>.png"})
            return
        alphabet, character, fname = parts[1:]
        drawer = fname[:-4].rsplit("_", 1)[-1]
        key = f"{alphabet}/{character}/{fname[:-4]}"
        try:
            data = zf.read(info)
        except (zipfile.BadZipFile, OSError) as exc:
            self.corrupt(report, where, f"{type(exc).__name__}: {exc}", strict)
            return
        if key in seen:
            if seen[key] != data:
                raise DatasetError(
                    f"omniglot: {key} differs between the two zips; they are not the published files"
                )
            report.duplicates += 1
            return
        seen[key] = data
        try:
            image = read_image(where, data, CARD.image_size, "L")
        except IMAGE_ERRORS as exc:
            self.corrupt(report, where, f"{type(exc).__name__}: {exc}", strict)
            return
        yield {
            "id": key,
            "label": f"{alphabet}/{character}",
            "signer": drawer,
            "image": image,
            "alphabet": alphabet,
        }
