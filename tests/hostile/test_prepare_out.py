"""`fsbench prepare --out` replaces only a prepared dataset of the same name: never a user's folder."""

from __future__ import annotations

import json
import os

import pytest

from fixtures.raw_layouts import make_asl
from harness import Outcome, fsbench
from harness import refused as refused_line


@pytest.fixture(scope="module")
def asl_raw(tmp_path_factory):
    return make_asl(tmp_path_factory.mktemp("raw"))


def prepare(raw, out, home=None) -> Outcome:
    """`fsbench prepare asl` through `fsbench.cli.main`, in this process (fast; same code path)."""
    old = os.environ.get("HOME")
    if home:
        os.environ["HOME"] = str(home)
    try:
        return fsbench("prepare", "asl", "--raw", raw, "--out", out)
    finally:
        if old is not None:
            os.environ["HOME"] = old


def refused(result, *needles: str) -> str:
    return refused_line(result, *needles, "--out")


def test_a_folder_with_user_files_is_kept(asl_raw, tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep").write_text("a")
    refused(prepare(asl_raw, out), "not a prepared dataset (keep)")
    assert (out / "keep").read_text() == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]  # no temp folder left behind


def test_home_directory_is_kept(asl_raw, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("mine")
    refused(prepare(asl_raw, "~", home=home))
    assert (home / ".bashrc").read_text() == "mine"


def test_a_file_is_kept(asl_raw, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    refused(prepare(asl_raw, target), "not a folder")
    assert target.read_text() == "mine"


def test_another_prepared_dataset_is_kept(asl_raw, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    assert prepare(asl_raw, out).rc == 0
    meta = out / "fsbench.json"
    meta.write_text(meta.read_text().replace('"name": "asl"', '"name": "massey"', 1))
    refused(prepare(asl_raw, out), "'massey'", "not 'asl'")
    assert meta.exists()


def test_same_dataset_and_empty_folder_are_replaced(asl_raw, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert prepare(asl_raw, out).rc == 0
    first = json.loads((out / "fsbench.json").read_text())["content_hash"]
    (out / "fsbench.json").write_text("{broken")  # a damaged output of ours is still ours
    assert prepare(asl_raw, out).rc == 0
    assert prepare(asl_raw, out).rc == 0  # a rerun replaces its own output
    assert json.loads((out / "fsbench.json").read_text())["content_hash"] == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
