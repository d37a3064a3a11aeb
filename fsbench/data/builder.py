"""What every dataset builder is: a card, a raw-layout check and a stream of rows.

A builder knows one raw layout and nothing about storage: it yields plain row dicts
(`id`, `label` as a class *name*, `signer`, optional `condition`, encoded `image` bytes and any
dataset-specific columns) and records what it had to skip in a `PrepareReport`. The shared writer
(`fsbench.data.store.write_prepared`) validates the rows against the card, hashes and stores them,
so every dataset gets the same checks and the same on-disk format.
"""

from __future__ import annotations

import io
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from PIL import Image

from fsbench.data.cards import DatasetCard
from fsbench.data.decode import to_mode, upright
from fsbench.data.records import PrepareReport, Row
from fsbench.errors import DatasetError
from fsbench.progress import progress_bar

T = TypeVar("T")


class DatasetBuilder(ABC):
    """One raw layout → rows. Subclasses set `card` and implement `check_layout` and `rows`."""

    card: ClassVar[DatasetCard]
    #: extra columns beyond id/image/label/signer/condition: name → datasets feature
    extra_features: ClassVar[dict[str, Any]] = {}

    def __init__(self, *, partial: bool = False) -> None:
        #: accept a raw copy with fewer images than the card expects (classes and signers are
        #: still checked); for partial downloads and small fixtures in the published layout
        self.partial = partial

    @abstractmethod
    def check_layout(self, raw: Path) -> Path:
        """Return the layout root inside `raw`, or raise a one-line `DatasetError` naming the
        expected layout (`self.layout_error(...)`)."""

    @abstractmethod
    def rows(self, root: Path, report: PrepareReport, strict: bool) -> Iterator[Row]:
        """Yield one row per image; record unreadable files with `self.corrupt(...)`."""

    def features(self) -> dict[str, Any]:
        """Extra feature types for this builder's configuration (default: `extra_features`)."""
        return dict(self.extra_features)

    def prepare(self, raw: Path, out: Path, *, strict: bool = False, allow_duplicates: bool = False) -> PrepareReport:
        """Read `raw` in the published layout and write a prepared dataset folder at `out`
        (identical pictures under two signers refused unless `allow_duplicates`)."""
        from fsbench.data.store import ensure_replaceable, write_prepared

        start = time.perf_counter()
        raw, out = Path(raw).expanduser(), ensure_replaceable(out, self.card.name)
        report = PrepareReport(dataset=self.card.name, raw=str(raw), out=str(out))
        if not raw.exists():
            raise DatasetError(
                f"raw folder {raw} for {self.card.name!r} does not exist; expected layout: "
                f"{self.card.raw_layout}"
            )
        root = self.check_layout(raw)
        write_prepared(
            self.rows(root, report, strict), out, self.card, self.features(), report,
            partial=self.partial, started=start, allow_duplicates=allow_duplicates,
        )
        return report

    # helpers shared by the builders -----------------------------------------------------

    def layout_error(self, raw: Path, what: str) -> DatasetError:
        return DatasetError(
            f"{raw} is not a raw {self.card.name!r} folder ({what}); expected layout: "
            f"{self.card.raw_layout}"
        )

    def folder_root(self, raw: Path, nested: str, expected: set[str], what: str) -> Path:
        """`raw`, or `raw/nested` where the archive unpacks into it, holding at least one of the
        `expected` subfolders; else the layout error naming `what` is missing."""
        root = raw / nested if (raw / nested).is_dir() else raw
        found = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
        if not found & expected:
            raise self.layout_error(raw, f"no {what} found")
        return root

    def corrupt(self, report: PrepareReport, path: str, reason: str, strict: bool) -> None:
        """Record an unreadable file; with strict=True abort instead (nothing is written)."""
        if strict:
            raise DatasetError(
                f"{self.card.name}: {path} is unreadable ({reason}); fix or remove it, or "
                f"prepare without --strict to skip and list it in the report"
            )
        report.corrupt.append({"path": path, "reason": reason})


def rows_with_progress(desc: str, items: Sequence[T], make_row: Callable[[T], Row | None]) -> Iterator[Row]:
    """`make_row(item)` for each item under one progress bar, yielding the rows it does not skip."""
    with progress_bar() as bar:
        task = bar.add_task(desc, total=len(items))
        for item in items:
            bar.advance(task)
            row = make_row(item)
            if row is not None:
                yield row


def open_image(src: bytes | Path | str, size: int | None = None) -> Image.Image:
    """Open and fully load an image (so errors surface here, not later), turned upright as its
    EXIF orientation says (`fsbench.data.decode.upright`).

    With `size`, a JPEG is decoded by DCT scaling at the smallest power-of-two reduction that
    is still at least `size` (libjpeg's own draft mode): faster, and then resized anyway.
    """
    im = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
    if size and im.format == "JPEG":
        im.draft("RGB", (size, size))
    im.load()
    return upright(im)


def pad_square(im: Image.Image) -> Image.Image:
    """Centre a non-square crop on a black square so resizing keeps the hand's proportions."""
    w, h = im.size
    if w == h:
        return im
    side = max(w, h)
    canvas = Image.new(im.mode, (side, side))
    canvas.paste(im, ((side - w) // 2, (side - h) // 2))
    return canvas


def encode_png(im: Image.Image, size: int, mode: str) -> bytes:
    """Resize to size×size in `mode` and encode as PNG with fixed settings and no metadata; 16-bit
    and float images are scaled to 8 bits, not clipped (`fsbench.data.decode.to_mode`)."""
    im = to_mode(im, mode)
    if im.size != (size, size):
        im = pad_square(im).resize((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def read_image(path: Path | str, data: bytes | None, size: int, mode: str) -> bytes:
    """Decode raw file bytes (or a path) and re-encode them for storage; raises on corruption."""
    return encode_png(open_image(data if data is not None else Path(path), size), size, mode)


IMAGE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _encode_task(args: tuple[str, int, str]) -> tuple[bytes | None, str]:
    path, size, mode = args
    try:
        return read_image(path, None, size, mode), ""
    except IMAGE_ERRORS as exc:
        return None, f"{type(exc).__name__}: {exc}"


def encode_files(
    paths: list[Path], size: int, mode: str, workers: int | None = None
) -> Iterator[tuple[Path, bytes | None, str]]:
    """(path, png bytes or None, error) for each file, in order; decoding uses all cores.

    Decoding and resizing thousands of JPEGs is CPU-bound and embarrassingly parallel, so big
    folders go through a process pool; small ones (fixtures) stay in-process.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(str(p), size, mode) for p in paths]
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers < 2 or len(jobs) < 256:
        results = map(_encode_task, jobs)
        yield from ((p, *r) for p, r in zip(paths, results))
        return
    pool = ProcessPoolExecutor(workers, initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        results = pool.map(_encode_task, jobs, chunksize=32)
        yield from ((p, *r) for p, r in zip(paths, results))
    except BaseException:  # Ctrl-C, SIGTERM, a strict-mode error: drop the queued work, do not finish it
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def die_with_parent(parent: int) -> None:
    """Pool-worker initializer: a worker ends when the process that started the pool does.

    Without it, a `kill -TERM`/`-KILL` of `fsbench prepare` left its decode workers (~360 MB
    each on Massey) running forever. Linux delivers SIGKILL on the parent's death
    (PR_SET_PDEATHSIG); a watchdog thread covers other systems and the fork-server case, where
    the worker's parent is not the fsbench process itself.
    """
    import ctypes
    import os
    import signal
    import threading
    import time

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            if os.getppid() == 1:
                os._exit(1)
            time.sleep(1.0)

    if os.getppid() != parent and os.getppid() == 1:
        os._exit(1)  # the parent died before prctl took effect
    threading.Thread(target=watch, daemon=True, name="fsbench-die-with-parent").start()
