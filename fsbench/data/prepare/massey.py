"""Massey 2D static ASL gestures (Barczak et al. 2011): 36 classes, 5 signers, 5 lighting views.

Signer ids are the `<P>` of `hand<P>_...` as plain strings "1".."5"; the view (bot, dif, left,
right, top) is the `condition` column, which the cross-condition protocol uses. Two revisions
of the same raw files: `massey` at 128 px (the committed boards') and `massey-224` at the
pretrained nets' 224 px (raw images padded square and resized once, as every builder does).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from fsbench.data.builder import DatasetBuilder, PrepareReport, Row, encode_files
from fsbench.data.cards import DatasetCard
from fsbench.progress import progress_bar

CLASSES = tuple("0123456789abcdefghijklmnopqrstuvwxyz")
FILE_RE = re.compile(r"^hand(?P<signer>\d+)_(?P<cls>[0-9a-z])_(?P<view>[a-z]+)_seg_(?P<k>\d+)_cropped\.jpe?g$")

def massey_card(size: int) -> DatasetCard:
    """The card of Massey stored at `size` px: `massey` (128, the first revision, which the
    committed boards were run on) or `massey-224` (the pretrained nets' own input size; the
    400-px sources are never upscaled)."""
    return replace(_CARD, name="massey" if size == 128 else f"massey-{size}", image_size=size, notes=(
        "Signer ids are '1'..'5' (hand1..hand5). Signers 3 and 4 have only 5 images per class, so the "
        f"small-class policy caps S there. Images are 400x400 JPEGs resized to {size}x{size} RGB"
        + (" (revision 1; `massey-224` keeps the pretrained nets' 224 px)." if size == 128 else
           " (revision 2: the input size of mediapipe-handnet and imagenet-efficientnet-lite0; `massey` is "
           "the 128-px revision 1, kept so boards run on it still verify).")))


_CARD = DatasetCard(
    name="massey",
    title="Massey 2D Static ASL Hand Gestures",
    description=(
        "2515 colour images of 36 static American Sign Language hand shapes (digits 0-9 and "
        "letters a-z; j and z are static snapshots of dynamic letters) by 5 signers under 5 "
        "lighting/viewing conditions, hands segmented on a black background."
    ),
    license="other (no licence stated; academic use, cite Barczak et al. 2011)",
    citation=(
        "A. L. C. Barczak, N. H. Reyes, M. Abastillas, A. Piccio, T. Susnjak. A New 2D Static "
        "Hand Gesture Colour Image Dataset for ASL Gestures. Research Letters in the "
        "Information and Mathematical Sciences 15 (2011) 12-20."
    ),
    classes=CLASSES,
    signers=("1", "2", "3", "4", "5"),
    expected={"images": 2515, "classes": 36, "signers": 5},
    raw_layout=(
        "RAW/asl_dataset/<class>/hand<P>_<class>_<view>_seg_<k>_cropped.jpeg with <class> in "
        "0-9,a-z, <P> in 1-5, <view> in bot,dif,left,right,top (RAW may also be asl_dataset itself)"
    ),
    default_raw="massey",
    image_size=128,
    condition_column="view",
)
CARD = massey_card(128)
CARD_224 = massey_card(224)


class Massey(DatasetBuilder):
    card: ClassVar[DatasetCard] = CARD

    def check_layout(self, raw: Path) -> Path:
        return self.folder_root(raw, "asl_dataset", set(CLASSES), "<class> folders 0-9/a-z")

    def rows(self, root: Path, report: PrepareReport, strict: bool) -> Iterator[Row]:
        files = []
        for path in sorted(p for p in root.glob("*/*") if p.is_file()):
            rel = f"{path.parent.name}/{path.name}"
            m = FILE_RE.match(path.name)
            if m is None or path.parent.name not in CLASSES:
                report.skipped.append({"path": rel, "reason": "name not in the Massey layout"})
            elif m["cls"] != path.parent.name:
                report.skipped.append({"path": rel, "reason": "class in name != folder"})
            else:
                files.append(path)
        with progress_bar() as bar:
            task = bar.add_task(f"preparing {self.card.name}", total=len(files))
            for path, image, error in encode_files(files, self.card.image_size, "RGB"):
                bar.advance(task)
                m = FILE_RE.match(path.name)
                assert m is not None
                if image is None:
                    self.corrupt(report, f"{path.parent.name}/{path.name}", error, strict)
                    continue
                yield {
                    "id": f"{m['cls']}/{path.stem}",
                    "label": m["cls"],
                    "signer": m["signer"],
                    "condition": m["view"],
                    "image": image,
                }


class Massey224(Massey):
    """Massey at 224 px: the revision the pretrained nets see at their own resolution."""

    card: ClassVar[DatasetCard] = CARD_224
