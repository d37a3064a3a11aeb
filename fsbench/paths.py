"""Where fsbench reads real data and keeps its caches; every location is an env var away.

FSBENCH_DATA   root of raw real data (CI sets it to ../shared/data)
FSBENCH_HOME   prepared datasets, caches and trained backbones (default ~/.cache/fsbench)
"""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """Raw real data; defaults to ../shared/data beside the current directory, as laid out in CI."""
    return Path(os.environ.get("FSBENCH_DATA", "../shared/data")).expanduser()


def home() -> Path:
    return Path(os.environ.get("FSBENCH_HOME", Path.home() / ".cache" / "fsbench")).expanduser()


def prepared_dir(name: str) -> Path:
    return home() / "datasets" / name


def cache_dir(kind: str) -> Path:
    path = home() / "cache" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded(name: str) -> Path:
    """Package data shipped inside fsbench (the MIT-licensed Omniglot zips)."""
    return Path(__file__).parent / "embedded" / name
