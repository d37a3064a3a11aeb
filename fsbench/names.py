"""Names that become paths, and paths a user gives for output: checked once, where they enter.

A dataset, split or method name ends up in a file name (a board, a default results path), so it
must be one plain path component: `../../tmp/x` or `a/b` would write outside the folder meant
for it. `--out` paths are checked before any work, so a run never computes for minutes and then
fails on a folder, a read-only target or a parent that is a file.
"""

from __future__ import annotations

import os
import re
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
    root = folder.resolve()
    if path.resolve().parent != root:
        raise UnsafePathError(f"{what} {name!r} would write outside {folder}; rename it")
    return path


def output_file(path: Path | str, option: str = "--out") -> Path:
    """A file path the command may write: not a folder, under a folder (not a file), writable."""
    raw = str(path)
    path = Path(path).expanduser()
    if raw.endswith(os.sep) or path.is_dir():
        raise UnsafePathError(f"{option} {raw} is a folder; give a file path such as {path / 'results.json'}")
    _writable_parent(path, option)
    if path.exists() and not os.access(path, os.W_OK):
        raise UnsafePathError(f"{option} {path} is read-only; choose another path or make it writable")
    return path


def output_dir(path: Path | str, option: str = "--out") -> Path:
    """A folder the command may create or write into: not a file, not under a file, writable."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise UnsafePathError(f"{option} {path} is a file, not a folder; choose a folder path")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UnsafePathError(f"{option} {path} is not writable; choose another folder or make it writable")
        return path
    _writable_parent(path, option)
    return path


def _writable_parent(path: Path, option: str) -> None:
    """The nearest existing ancestor of `path` must be a writable folder (parents are created)."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
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
