"""Fixtures for the dataset-layer tests: real data roots and generated raw layouts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest



def data_root() -> Path:
    return Path(os.environ.get("FSBENCH_DATA", "../shared/data"))


def need_real(folder: str) -> Path:
    path = data_root() / folder
    if not path.is_dir():
        pytest.skip(f"real data {path} missing: set FSBENCH_DATA to the shared data folder")
    return path


@pytest.fixture(scope="session")
def massey_prepared(tmp_path_factory):
    """Massey prepared once per session (2515 JPEG decodes): (report, out dir)."""
    from fsbench.data.hub import prepare_dataset

    raw = need_real("massey")
    out = tmp_path_factory.mktemp("massey") / "massey"
    return prepare_dataset("massey", raw, out), out


@pytest.fixture(scope="session")
def omniglot_resolved():
    """Omniglot through `resolve_dataset` (auto-prepared once from the embedded zips)."""
    from fsbench.data.hub import resolve_dataset

    return resolve_dataset("omniglot")
