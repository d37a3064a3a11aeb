"""A tiny real dataset for the baselines: 8 Omniglot characters × 20 drawers (the MIT-licensed
zip shipped inside fsbench), drawers grouped into 4 "signers" of 5 images per class."""

from __future__ import annotations

import pytest
from fewshot_tiny import tiny_omniglot

from fsbench.data.dataset import FsDataset


@pytest.fixture(scope="session")
def tiny() -> FsDataset:
    return tiny_omniglot()


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FSBENCH_QUIET", "1")
