"""The one way fsbench writes a file: into a temp file beside it, fsynced, then renamed over it.

A reader (or a second process) therefore sees the old file or the new one, never a torn one,
and a failed or interrupted write leaves no temp file behind. Files get the usual 0644-style
mode from the umask (mkstemp alone would make them 0600).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path` for writing; on success it replaces `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_path(path, "wb") as fh:
        fh.write(data)


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path, "w") as fh:
        fh.write(text)


def write_with(path: Path | str, save: Callable[[IO], None]) -> None:
    """`save(file_object)` into a temp file, then rename: for torch.save, np.save and friends."""
    with atomic_path(path, "wb") as fh:
        save(fh)
