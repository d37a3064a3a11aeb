"""Names that become paths, and paths a user gives: checked once, where they enter.

A dataset, split or method name ends up in a file name (a board, a default results path), so it
must be one plain path component: `../../tmp/x` or `a/b` would write outside the folder meant
for it. `--out` paths are checked before any work, so a run never computes for minutes and then
fails on a folder, a read-only target or a parent that is a file.

Two rules hold for every path fsbench touches (docs/reliability.md §3):

- **output**: a file is written by replacing its target (fsbench.atomic), so the target must be a
  regular file or absent (`regular_target`): never a device (`--out /dev/null` as root replaced
  the machine's /dev/null), a FIFO, a socket, a folder, a symlink loop or a link to nothing; a
  link to a regular file is written through (the link stays). Output folders follow `output_dir`.
- **input**: a file fsbench reads (results, boards, configs, sweep files) must be a regular file
  of bounded size, opened without blocking (`read_input`): a FIFO or a device is refused at once
  instead of hanging, a 10 GB file instead of filling memory.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from fsbench.errors import FsbenchError

#: one path component: starts with a letter or digit, then letters, digits, `.`, `_`, `-`
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class UnsafePathError(FsbenchError):
    """A name or output path that cannot be used as given."""


def safe_name(value: object, what: str) -> str:
    """`value` when it is one safe path component, else a one-line error naming `what`."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value) or ".." in value:
        raise UnsafePathError(
            f"{what} {value!r} is not a safe name (letters, digits, '.', '_', '-'; no '/' or '..', "
            f"at most 128 characters); rename it"
        )
    return value


def inside(folder: Path, name: str, what: str) -> Path:
    """`folder/name`, refusing anything that would resolve outside `folder`."""
    folder = Path(folder)
    path = folder / name
    try:
        root, resolved = folder.resolve(), path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: Python < 3.13's symlink loop
        raise UnsafePathError(f"{what} {path} sits on a symlink loop; choose another folder") from None
    if resolved.parent != root:
        raise UnsafePathError(f"{what} {name!r} would write outside {folder}; rename it")
    return path


#: what a file that is not a regular one is, by its stat mode, for the one-line refusals
KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))
#: the largest results file, board, config or sweep file fsbench reads (the largest real one is < 1 MB)
MAX_INPUT_BYTES = 256 * 2**20


def kind_of(mode: int) -> str:
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


def _lstat(path: Path, what: str) -> os.stat_result | None:
    """`lstat(path)`, None when nothing is there; a loop or an unreadable parent is one line."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None  # nothing there (a parent that is a file is named by the parent checks)
    except OSError as exc:
        raise UnsafePathError(f"{what} {path} cannot be used ({_why(exc)}); choose another path") from None


def _why(exc: OSError) -> str:
    return "a symlink loop" if exc.errno == errno.ELOOP else (exc.strerror or type(exc).__name__)


def _follow(path: Path, what: str) -> tuple[Path, os.stat_result]:
    """The path and stat a symlink leads to; a loop or a link to nothing is refused."""
    try:
        real = Path(os.path.realpath(path, strict=True))
        return real, os.stat(real)
    except OSError as exc:
        why = "a symlink to nothing" if exc.errno == errno.ENOENT else _why(exc)
        raise UnsafePathError(f"{what} {path} is {why}; give a regular file or a new path") from None


def regular_target(path: Path | str, what: str = "--out") -> Path:
    """Where a write of `path` lands: `path` when absent or a regular file, the regular file a link
    leads to; anything else (device, FIFO, socket, folder, symlink loop, dangling link) is refused,
    since a write replaces its target and must never replace those."""
    path = Path(path)
    st = _lstat(path, what)
    if st is None:
        return path
    if stat.S_ISLNK(st.st_mode):
        path, st = _follow(path, what)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"{what} {path} is {kind_of(st.st_mode)}, not a regular file; fsbench replaces the "
                              f"file it writes, so give a file path (a new one, or a file to overwrite)")
    return path


def read_input(path: Path | str, what: str, limit: int | None = None) -> bytes:
    """The bytes of a file fsbench reads: a regular file of at most `limit` bytes, opened without
    blocking (a FIFO would hang a plain open). FileNotFoundError and other OS errors propagate
    for the caller to name; anything that is not a regular file is one line."""
    path, limit = Path(path), MAX_INPUT_BYTES if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{what} {path} is a symlink loop; give a regular file") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"{what} {path} is {kind_of(st.st_mode)}, not a regular file; give a file")
        if st.st_size > limit:
            raise UnsafePathError(f"{what} {path} is {st.st_size / 2**20:.0f} MiB, more than the {limit / 2**20:.0f} MiB "
                                  "fsbench reads; is it the right file?")
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise UnsafePathError(f"{what} {path} is larger than the {limit / 2**20:.0f} MiB fsbench reads; is it the right file?")
    return data


def read_input_text(path: Path | str, what: str, limit: int | None = None) -> str:
    """`read_input` decoded as UTF-8 (UnicodeDecodeError propagates for the caller to name)."""
    return read_input(path, what, limit).decode("utf-8")


def output_file(path: Path | str, option: str = "--out") -> Path:
    """A file path the command may write: absent or a regular file (`regular_target`), not under
    a file, writable."""
    raw = str(path)
    path = Path(path).expanduser()
    st = _lstat(path, option)
    if raw.endswith(os.sep) or (st is not None and stat.S_ISDIR(st.st_mode)) or (
            st is not None and stat.S_ISLNK(st.st_mode) and path.is_dir()):
        raise UnsafePathError(f"{option} {raw} is a folder; give a file path such as {path / 'results.json'}")
    target = regular_target(path, option)
    _writable_parent(target, option)
    if target.exists() and not os.access(target, os.W_OK):
        raise UnsafePathError(f"{option} {path} is read-only; choose another path or make it writable")
    return path


def output_dir(path: Path | str, option: str = "--out") -> Path:
    """A folder the command may create or write into: not a file, a device or a symlink loop, not
    under a file, writable."""
    path = Path(path).expanduser()
    st = _lstat(path, option)
    if st is not None and stat.S_ISLNK(st.st_mode):
        _, st = _follow(path, option)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        what = "a file" if stat.S_ISREG(st.st_mode) else kind_of(st.st_mode)
        raise UnsafePathError(f"{option} {path} is {what}, not a folder; choose a folder path")
    if st is not None:
        if not os.access(path, os.W_OK | os.X_OK):
            raise UnsafePathError(f"{option} {path} is not writable; choose another folder or make it writable")
        return path
    _writable_parent(path, option)
    return path


def _writable_parent(path: Path, option: str) -> None:
    """The nearest existing ancestor of `path` must be a writable folder (parents are created)."""
    parent = path.absolute().parent
    while _lstat(parent, option) is None:
        parent = parent.parent
    if os.path.islink(parent):
        _follow(parent, option)  # a loop or a link to nothing is refused here
    if not parent.is_dir():
        raise UnsafePathError(f"{option} {path}: {parent} is a file, so nothing can be written under it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UnsafePathError(f"{option} {path}: {parent} is not writable; choose another path")


def slug(value: str) -> str:
    """A safe name derived from any text (a Hub id, a folder path): unsafe runs become '-'."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip("-.") or "x"
    return text.replace("..", ".")[:128]


def default_results_path(method: str, dataset: str, split: str, tag: str, seed: int) -> Path:
    """`runs/<method>__<dataset>__<split><tag>__seed<seed>.json`, every part a safe name."""
    name = f"{slug(method)}__{slug(Path(dataset).name or dataset)}__{slug(split)}{tag}__seed{seed}.json"
    return inside(Path("runs"), name, "default results path")
