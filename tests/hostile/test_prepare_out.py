"""`fsbench prepare --out` replaces only a prepared dataset of the same name: never a user's folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fixtures.raw_layouts import make_asl


@pytest.fixture(scope="module")
def asl_raw(tmp_path_factory):
    return make_asl(tmp_path_factory.mktemp("raw"))


def prepare(raw, out, home=None) -> subprocess.CompletedProcess:
    """`fsbench prepare asl` in a subprocess, as a user runs it."""
    env = {**os.environ, **({"HOME": str(home)} if home else {})}
    return subprocess.run(
        [sys.executable, "-c", "from fsbench.cli import main; main()", "prepare", "asl", "--raw", str(raw),
         "--out", str(out)], capture_output=True, text=True, env=env, timeout=120,
    )


def refused(result, *needles: str) -> str:
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    for needle in needles:
        assert needle in line
    return line


def test_a_folder_with_user_files_is_kept(asl_raw, tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep").write_text("a")
    refused(prepare(asl_raw, out), "not a prepared dataset (keep)", "--out")
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
    assert prepare(asl_raw, out).returncode == 0
    meta = out / "fsbench.json"
    meta.write_text(meta.read_text().replace('"name": "asl"', '"name": "massey"', 1))
    refused(prepare(asl_raw, out), "'massey'", "not 'asl'")
    assert meta.exists()


def test_same_dataset_and_empty_folder_are_replaced(asl_raw, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert prepare(asl_raw, out).returncode == 0
    first = json.loads((out / "fsbench.json").read_text())["content_hash"]
    (out / "fsbench.json").write_text("{broken")  # a damaged output of ours is still ours
    assert prepare(asl_raw, out).returncode == 0
    assert prepare(asl_raw, out).returncode == 0  # a rerun replaces its own output
    assert json.loads((out / "fsbench.json").read_text())["content_hash"] == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
