"""Paths a user gives: a write never replaces a device, a FIFO or a symlink loop (issue 25 case 1),
a read never blocks on a FIFO or swallows a huge file, and loops are one line (case 12).

Nothing here touches the real /dev/null: device targets are FIFOs made in tmp, and a character
device made with os.mknod only when running as root (skipped otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat

import pytest

from harness import fsbench, refused


class Hung(BaseException):
    """Raised by the alarm when a command blocks (a plain open() of a FIFO waits for a writer)."""


@contextlib.contextmanager
def no_hang(seconds: int = 20):
    def alarm(signum, frame):
        raise Hung(f"blocked for {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def make_target(kind: str, path):
    """A hostile thing at `path` that a write must not replace; returns how to check it is intact."""
    if kind == "fifo":
        os.mkfifo(path)
        return lambda: stat.S_ISFIFO(os.lstat(path).st_mode)
    if kind == "chardev":  # a /dev/null stand-in in tmp: only root may make one
        if os.geteuid() != 0:
            pytest.skip("making a character device needs root")
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        return lambda: stat.S_ISCHR(os.lstat(path).st_mode)
    if kind == "loop":
        os.symlink(path.name, path)
        return lambda: os.readlink(path) == path.name
    if kind == "link-to-fifo":
        os.mkfifo(path.with_name("pipe"))
        os.symlink("pipe", path)
        return lambda: os.path.islink(path) and stat.S_ISFIFO(os.stat(path).st_mode)
    if kind == "dangling":
        os.symlink("nowhere/at/all", path)
        return lambda: os.readlink(path) == "nowhere/at/all"
    raise AssertionError(kind)


def _run(tiny_dir, *extra):
    return ["run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1",
            "--set", "size=3", *extra]


#: every command that writes a file: (where the hostile target goes, the command)
FILE_WRITERS = {
    "run-out": ("t/out.json", lambda tiny, t, r, b: _run(tiny, "--out", t / "out.json")),
    "export-out": ("t/m.onnx", lambda tiny, t, r, b: ["export", "-m", "pixels", "-d", tiny, "-s", "leave-signer-out",
                                                       "--out", t / "m.onnx"]),
    "leaderboard-out": ("t/b.md", lambda tiny, t, r, b: ["leaderboard", "tiny__leave-signer-out", "--boards", b,
                                                          "--format", "markdown", "--out", t / "b.md"]),
    "publish-board": ("b/tiny__leave-signer-out.json", lambda tiny, t, r, b: ["publish", r, "--boards", b]),
    "publish-sweep-file": ("b/sweeps/tiny__leave-signer-out.toml", lambda tiny, t, r, b: ["publish", r, "--boards", b]),
    "report-summary": ("t/rep/summary.md", lambda tiny, t, r, b: ["report", r, "--out", t / "rep"]),
    "sweep-summary": ("t/sw/sweep.json", lambda tiny, t, r, b: ["sweep", "-m", "pixels", "-d", tiny, "-s",
                                                                "leave-signer-out", "--shots", "1", "--episodes", "1",
                                                                "--set", "size=3", "--out", t / "sw"]),
}
KINDS = ["fifo", "chardev", "loop", "link-to-fifo", "dangling"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("writer", sorted(FILE_WRITERS))
def test_a_write_never_replaces_a_device_fifo_or_loop(writer, kind, tmp_path, tiny_dir, tiny_results_path):
    where, command = FILE_WRITERS[writer]
    (tmp_path / "t").mkdir()
    boards = tmp_path / "b"
    if writer == "leaderboard-out":
        assert fsbench("publish", tiny_results_path, "--boards", boards).rc == 0
    target = tmp_path / where
    target.parent.mkdir(parents=True, exist_ok=True)
    intact = make_target(kind, target)
    with no_hang():
        outcome = fsbench(*command(tiny_dir, tmp_path / "t", tiny_results_path, boards))
    line = refused(outcome)
    assert any(w in line for w in ("not a regular file", "symlink loop", "symlink to nothing")), line
    assert intact(), f"{target} was replaced"
    assert not [n for n in os.listdir(target.parent) if "tmp" in n]  # no temp file left beside it


#: every command that writes into a folder it is given: the folder option's value
FOLDER_WRITERS = {
    "prepare-out": lambda tiny, t, r, d: ["prepare", "folder", "--raw", t / "raw", "--name", "mine",
                                          "--pattern", "{label}/{signer}_{*}.png", "--out", d],
    "report-out": lambda tiny, t, r, d: ["report", r, "--out", d],
    "sweep-out": lambda tiny, t, r, d: ["sweep", "-m", "pixels", "-d", tiny, "-s", "leave-signer-out", "--shots", "1",
                                        "--episodes", "1", "--out", d],
    "publish-boards": lambda tiny, t, r, d: ["publish", r, "--boards", d],
    "leaderboard-boards": lambda tiny, t, r, d: ["leaderboard", "--boards", d],
}


@pytest.mark.parametrize("kind", ["fifo", "loop", "dangling"])
@pytest.mark.parametrize("writer", sorted(FOLDER_WRITERS))
def test_a_folder_option_that_is_a_fifo_or_loop_is_one_line(writer, kind, tmp_path, tiny_dir, tiny_results_path):
    (tmp_path / "raw" / "a").mkdir(parents=True)
    target = tmp_path / "d"
    intact = make_target(kind, target)
    with no_hang():
        outcome = fsbench(*FOLDER_WRITERS[writer](tiny_dir, tmp_path, tiny_results_path, target))
    line = refused(outcome)
    assert any(w in line for w in ("FIFO", "symlink loop", "symlink to nothing")), line
    assert intact()


#: every command that reads a file the user names: (file the FIFO replaces, the command)
READERS = {
    "run-config": lambda t, f: _run(t, "--config", f, "--out", f.with_name("r.json")),
    "sweep-config": lambda t, f: ["sweep", "-m", "pixels", "-d", t, "-s", "leave-signer-out", "--config", f, "--dry-run"],
    "sweep-file": lambda t, f: ["sweep", f, "--dry-run"],
    "publish-results": lambda t, f: ["publish", f, "--boards", f.with_name("b")],
    "report-results": lambda t, f: ["report", f, "--out", f.with_name("rep")],
    "compact-results": lambda t, f: ["compact", f],
    "leaderboard-board": lambda t, f: ["leaderboard", f],
}


@pytest.mark.parametrize("kind", ["fifo", "huge", "loop"])
@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_read_never_blocks_or_swallows(reader, kind, tmp_path, tiny_dir):
    path = tmp_path / "in.json"
    if kind == "huge":  # sparse: 300 MiB on paper, nothing on disk
        with open(path, "wb") as fh:
            fh.truncate(300 * 2**20)
    else:
        make_target(kind, path)
    with no_hang():
        outcome = fsbench(*READERS[reader](tiny_dir, path))
    line = refused(outcome)
    assert any(w in line for w in ("FIFO", "MiB", "symlink loop")), line


def test_a_fifo_among_the_boards_does_not_hang_a_publish(tmp_path, tiny_results_path):
    """publish reads every board of the folder (known dataset hashes): a FIFO there is skipped."""
    boards = tmp_path / "b"
    boards.mkdir()
    os.mkfifo(boards / "other.json")
    with no_hang():
        outcome = fsbench("publish", tiny_results_path, "--boards", boards)
    assert outcome.rc == 0, outcome.err
    assert json.loads((boards / "tiny__leave-signer-out.json").read_text())["entries"]
    assert stat.S_ISFIFO(os.lstat(boards / "other.json").st_mode)
