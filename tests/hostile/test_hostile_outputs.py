"""Where results, boards, reports and caches are written: bad targets, full and read-only disks."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess

import pytest

from fixtures.raw_layouts import make_asl
from harness import fsbench, refused, tree


def pixels_run(tiny_dir, out, *extra):
    return fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1",
                   "--set", "size=4", "--out", out, *extra)


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    return path


OUT_CASES = {
    "run-out-folder": (lambda t, f: ["run", "--out", t], "is a folder"),
    "run-out-trailing-slash": (lambda t, f: ["run", "--out", f"{t}/new/"], "is a folder"),
    "run-out-under-file": (lambda t, f: ["run", "--out", f / "r.json"], "is a file, so nothing can be written"),
    "run-out-deep-under-file": (lambda t, f: ["run", "--out", f / "a" / "b" / "r.json"], "is a file"),
    "leaderboard-out-folder": (lambda t, f: ["leaderboard", "--out", t], "is a folder"),
    "leaderboard-out-under-file": (lambda t, f: ["leaderboard", "--out", f / "b.md"], "is a file"),
    "report-out-file": (lambda t, f: ["report", "--out", f], "is a file, not a folder"),
    "report-out-under-file": (lambda t, f: ["report", "--out", f / "figs"], "is a file"),
    "export-out-folder": (lambda t, f: ["export", "--out", t], "is a folder"),
    "prepare-out-under-file": (lambda t, f: ["prepare", "--out", f / "ds"], "is a file"),
    "prepare-out-file": (lambda t, f: ["prepare", "--out", f], "not a folder"),
    "prepare-out-cwd": (lambda t, f: ["prepare", "--out", "."], "the folder you are in"),
    "prepare-out-parent-of-cwd": (lambda t, f: ["prepare", "--out", ".."], "the folder you are in"),
    "publish-boards-under-file": (lambda t, f: ["publish", "--boards", f / "b"], "is a file"),
}


@pytest.mark.parametrize("case", sorted(OUT_CASES))
def test_bad_output_target_is_one_line_and_touches_nothing(case, tmp_path, a_file, tiny_dir, tiny_results_path):
    args = OUT_CASES[case][0](tmp_path, a_file)
    cmd, opts = args[0], args[1:]
    base = {
        "run": ["run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1"],
        "leaderboard": ["leaderboard", "tiny__leave-signer-out", "--boards", tmp_path / "boards"],
        "report": ["report", tiny_results_path],
        "export": ["export", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out"],
        "prepare": ["prepare", "asl", "--raw", tmp_path / "raw"],
        "publish": ["publish", tiny_results_path],
    }[cmd]
    if cmd == "leaderboard":
        assert fsbench("publish", tiny_results_path, "--boards", tmp_path / "boards").rc == 0
    if cmd == "prepare":
        make_asl(tmp_path / "raw")
    before = tree(tmp_path)
    refused(fsbench(*base, *opts, cwd=tmp_path), OUT_CASES[case][1])
    assert tree(tmp_path) == before  # nothing lost, nothing half-written
    assert a_file.read_text() == "mine"


def test_results_and_boards_are_world_readable(tiny_dir, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "r.json"
        assert pixels_run(tiny_dir, out).rc == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        assert fsbench("publish", out, "--boards", tmp_path / "b").rc == 0
        (board,) = (tmp_path / "b").glob("*.json")
        assert stat.S_IMODE(board.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_default_results_path_is_a_safe_name(tiny_dir, tmp_path):
    o = fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1",
                "--set", "size=4", cwd=tmp_path)
    assert o.rc == 0, o.err
    (written,) = (tmp_path / "runs").iterdir()
    assert written.name == "pixels__tiny__leave-signer-out__seed0.json"


@contextlib.contextmanager
def tmpfs(path, size: str, readonly: bool = False):
    """A small tmpfs at `path` (root only; skipped where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        if readonly:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_disk_full_while_decoding_the_pixel_cache(tiny_dir, tmp_path, monkeypatch):
    """The 6.2 MB pixel cache does not fit a 2 MB FSBENCH_HOME: one line, no temp file, no bus error."""
    with tmpfs(tmp_path / "small", "2m") as small:
        monkeypatch.setenv("FSBENCH_HOME", str(small))
        line = refused(fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                               "--episodes", "1", "--set", "size=208", "--out", tmp_path / "r.json"), "disk full at")
        assert "FSBENCH_HOME" in line
        assert not [p for p in small.rglob("*") if ".tmp" in p.name or p.suffix == ".npy"]  # no temp, no torn cache
        assert not (tmp_path / "r.json").exists()


def test_disk_full_while_writing_results(tiny_dir, tmp_path):
    with tmpfs(tmp_path / "small", "64k") as small:
        (small / "filler").write_bytes(b"x" * (64 * 1024 - 4096))
        with contextlib.suppress(OSError):
            (small / "filler2").write_bytes(b"x" * 8192)
        refused(pixels_run(tiny_dir, small / "r.json"), "disk full at", str(small / "r.json"))
        assert sorted(p.name for p in small.iterdir()) in (["filler"], ["filler", "filler2"])


def test_disk_full_while_preparing(tmp_path):
    make_asl(tmp_path / "raw")
    with tmpfs(tmp_path / "small", "16k") as small:
        refused(fsbench("prepare", "asl", "--raw", tmp_path / "raw", "--out", small / "asl"), "disk full at")
        assert list(small.iterdir()) == []


@pytest.mark.parametrize("what", ["run-out", "leaderboard-out", "report-out", "home"])
def test_read_only_targets(what, tiny_dir, tiny_results_path, tmp_path, monkeypatch):
    with tmpfs(tmp_path / "ro", "1m", readonly=True) as ro:
        if what == "run-out":
            refused(pixels_run(tiny_dir, ro / "r.json"), "not writable")
        elif what == "leaderboard-out":
            assert fsbench("publish", tiny_results_path, "--boards", tmp_path / "b").rc == 0
            refused(fsbench("leaderboard", "tiny__leave-signer-out", "--boards", tmp_path / "b", "--out", ro / "b.md"),
                    "not writable")
        elif what == "report-out":
            refused(fsbench("report", tiny_results_path, "--out", ro / "figs"), "not writable")
        else:
            monkeypatch.setenv("FSBENCH_HOME", str(ro / "home"))
            refused(pixels_run(tiny_dir, tmp_path / "r.json"), "read-only file system")


def test_prepare_out_into_the_empty_folder_you_are_in(tmp_path):
    """Even an empty current folder is not swapped away under the user's shell."""
    make_asl(tmp_path / "raw")
    here = tmp_path / "here"
    here.mkdir()
    refused(fsbench("prepare", "asl", "--raw", tmp_path / "raw", "--out", ".", cwd=here), "the folder you are in")
    assert here.is_dir() and not list(here.iterdir())
