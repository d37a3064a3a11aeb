"""The one way fsbench writes a file: into a temp file beside it, fsynced, then renamed over it.

A reader (or a second process) therefore sees the old file or the new one, never a torn one,
and a failed or interrupted write leaves no temp file behind. Files get the usual 0644-style
mode from the umask (mkstemp alone would make them 0600).
"""

from __future__ import annotations

import os
import re
import shutil
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
    remove_stale(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
            exc.filename = str(path)  # a failed write() names no file: name the one being written
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


#: every temp name fsbench writes beside a target: `.NAME.tmp-PID…` (files, prepare folders) or
#: `.NAME.old-PID` (a prepared folder being swapped out)
STALE = re.compile(r"^\..+\.(?:tmp|old)-(?P<pid>\d+)(?:-.*)?$")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale(folder: Path | str) -> list[Path]:
    """Delete temp files and folders left in `folder` by killed fsbench processes (dead PIDs only).

    A SIGKILL or power cut skips every cleanup handler; the next run that writes into the same
    folder removes what was left, never the temp files of a process that is still running.
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = STALE.match(entry.name)
        if m is None or int(m["pid"]) == os.getpid() or pid_alive(int(m["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
