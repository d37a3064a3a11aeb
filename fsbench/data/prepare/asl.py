"""ASL Finger Spelling dataset (Pugeault & Bowden 2011), "dataset5" as published.

24 static letters (a-y without j and z, which need motion) by 5 signers A-E, recorded with a
Kinect: each colour crop `color_<k>_<nnnn>.png` has a matching `depth_<k>_<nnnn>.png`.
Colour crops (not square) are centred on a black square and resized to 64×64 so the hand keeps
its proportions. Depth is opt-in (`with_depth=True`, an extra `depth` image column, 16-bit PNG
at 64×64): it doubles the size and no fsbench method reads it yet.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from fsbench.data.builder import (
    IMAGE_ERRORS,
    DatasetBuilder,
    PrepareReport,
    Row,
    open_image,
    pad_square,
    read_image,
    rows_with_progress,
)
from fsbench.data.cards import DatasetCard

CLASSES = tuple("abcdefghiklmnopqrstuvwxy")
SIGNERS = ("A", "B", "C", "D", "E")
COLOR_RE = re.compile(r"^color_(?P<k>\d+)_(?P<n>\d+)\.png$")

CARD = DatasetCard(
    name="asl",
    title="ASL Finger Spelling Dataset (Pugeault & Bowden)",
    description=(
        "Kinect colour and depth crops of 24 static American Sign Language letters (a-y, "
        "without the dynamic j and z) performed by 5 non-native signers who deliberately vary "
        "hand pose; about 65k frames, consecutive frames of one recording per signer and letter."
    ),
    license="other (research use; cite Pugeault & Bowden 2011)",
    citation=(
        "N. Pugeault, R. Bowden. Spelling It Out: Real-Time ASL Fingerspelling Recognition. "
        "ICCV Workshop on Consumer Depth Cameras for Computer Vision, 2011."
    ),
    classes=CLASSES,
    signers=SIGNERS,
    expected={"classes": 24, "signers": 5},
    raw_layout=(
        "RAW/dataset5/<signer A-E>/<letter a-y without j,z>/color_<k>_<nnnn>.png with a matching "
        "depth_<k>_<nnnn>.png (RAW may also be dataset5 itself)"
    ),
    default_raw="asl",
    image_size=64,
    notes=(
        "Frames of one signer and letter are consecutive video frames, so only signer-disjoint "
        "splits give honest accuracy. Colour crops are padded to square and resized to 64x64 "
        "RGB; depth is stored only with with_depth=True (column `depth`, 16-bit). The image "
        "count is not fixed by the card (published copies differ slightly)."
    ),
)


def _depth_png(path: Path, size: int) -> bytes:
    """16-bit depth → size×size 16-bit PNG (nearest: averaging depths across edges is wrong)."""
    im = open_image(path)
    if im.mode != "I;16":
        raise ValueError(f"depth image has mode {im.mode}, expected 16-bit (I;16)")
    im = pad_square(im).resize((size, size), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


class ASL(DatasetBuilder):
    card: ClassVar[DatasetCard] = CARD

    def __init__(self, *, partial: bool = False, with_depth: bool = False) -> None:
        super().__init__(partial=partial)
        self.with_depth = with_depth

    def features(self) -> dict[str, Any]:
        import datasets

        return {"depth": datasets.Image()} if self.with_depth else {}

    def check_layout(self, raw: Path) -> Path:
        return self.folder_root(raw, "dataset5", set(SIGNERS), "signer folders A-E")

    def rows(self, root: Path, report: PrepareReport, strict: bool) -> Iterator[Row]:
        files = sorted(p for p in root.glob("*/*/*") if p.is_file())
        yield from rows_with_progress("preparing asl", files, lambda p: self._row(root, p, report, strict))

    def _row(self, root: Path, path: Path, report: PrepareReport, strict: bool) -> Row | None:
        rel = path.relative_to(root).as_posix()
        signer, letter = path.parent.parent.name, path.parent.name
        if path.name.startswith("depth_") and path.suffix == ".png":
            return None  # read together with its colour frame
        m = COLOR_RE.match(path.name)
        if m is None or signer not in SIGNERS or letter not in CLASSES:
            report.skipped.append({"path": rel, "reason": "not <A-E>/<letter>/color_<k>_<n>.png"})
            return None
        depth_path = path.with_name(f"depth_{m['k']}_{m['n']}.png")
        try:
            image = read_image(path, None, CARD.image_size, "RGB")
            depth = _depth_png(depth_path, CARD.image_size) if self.with_depth else None
        except FileNotFoundError:
            self.corrupt(report, rel, f"matching {depth_path.name} is missing", strict)
            return None
        except IMAGE_ERRORS as exc:
            self.corrupt(report, rel, f"{type(exc).__name__}: {exc}", strict)
            return None
        row: Row = {
            "id": f"{signer}/{letter}/{path.stem}",
            "label": letter,
            "signer": signer,
            "image": image,
        }
        if self.with_depth:
            row["depth"] = {"bytes": depth, "path": None}
        return row
