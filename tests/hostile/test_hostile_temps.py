"""Temporaries: fsbench removes only its own, and only once their owner is provably gone.

Issue 25 case 2: files named like fsbench's old temps (`.x.old-2019`, `.x.tmp-123`) are the
user's and survive every writer. Case 3: a temp whose owner is alive elsewhere (another
container sharing FSBENCH_HOME: its PID and host name mean nothing here) survives, and its
write completes. And what a SIGKILLed writer left is still removed by the next write.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsbench.atomic import write_text
from fsbench.paths import cache_dir
from fsbench.testing import write_tiny
from harness import fsbench

#: a writer in another process: `write_with(TARGET)` that stops half-way until GO exists; with
#: FAKE set it looks like another container (a PID and host name that mean nothing here)
WRITER = """
import os, socket, sys, time
target, started, go, fake = sys.argv[1:5]
if fake:
    os.getpid = lambda: 4194000 + 7  # beyond this machine's PIDs, as another namespace's are
    if fake == "other-host":
        socket.gethostname = lambda: "another-container"
from fsbench.atomic import write_with

def save(fh):
    fh.write(b"half")
    fh.flush()
    open(started, "w").close()
    while not os.path.exists(go):
        time.sleep(0.02)
    fh.write(b" and the rest")

write_with(target, save)
"""

#: a temp held by another process (a prepare's folder or a pixel cache being decoded), until killed
HOLDER = """
import sys, time
from pathlib import Path
from fsbench.atomic import owned_temp
target, started, kind = sys.argv[1:4]
with owned_temp(target) as tmp:
    if kind == "dir":
        (tmp / "data").mkdir(parents=True)
        (tmp / "data" / "train-00000-of-00001.parquet").write_bytes(b"half")
    else:
        tmp.write_bytes(b"half-written")
    Path(started).touch()
    time.sleep(120)
"""


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the helper process never started writing"
        time.sleep(0.02)


def _temps(folder: Path, target: str = "") -> list[str]:
    """fsbench's temps in `folder` (of `target` only, if given): a shared cache folder holds others'."""
    return sorted(n for n in os.listdir(folder) if "fsbench-tmp" in n and n.startswith(f".{target}"))


LOOKALIKES = {  # the user's own files and folders, named as fsbench's temps once were
    "thesis-old-folder": (".thesis.old-2019", "dir"),
    "notes-tmp-file": (".notes.tmp-4194299", "file"),
    "results-tmp-dead-pid": (".r.json.tmp-4194301-abc.tmp", "file"),
    "dataset-tmp-folder": (".ds.tmp-4194302", "dir"),
    "dataset-old-folder": (".ds.old-4194303", "dir"),
    "new-style-name-without-owner": (".r.json.fsbench-tmp-0123456789abcdef", "file"),
    "new-style-name-forged-owner": (".r.json.fsbench-tmp-fedcba9876543210", "forged"),
}


def _make(folder: Path, name: str, kind: str) -> list[Path]:
    path = folder / name
    if kind == "dir":
        (path / "chapters").mkdir(parents=True)
        (path / "chapters" / "ch1.tex").write_text("two years of work")
        return [path / "chapters" / "ch1.tex"]
    path.write_text("mine")
    if kind == "forged":  # an owner file that is not a record of fsbench's
        owner = folder / f"{name}.owner"
        owner.write_text('{"pid": 4194304}')
        return [path, owner]
    return [path]


@pytest.mark.parametrize("case", sorted(LOOKALIKES))
def test_users_files_named_like_temps_survive_every_writer(case, tmp_path, tiny_dir):
    """`fsbench run --out` into the folder, a pixel cache decoded beside them, a prepare into the folder."""
    name, kind = LOOKALIKES[case]
    d, images = tmp_path / "d", cache_dir("images")
    d.mkdir()
    kept = _make(d, name, kind) + _make(images, f"{name}-{case}", kind)
    size = 40 + sorted(LOOKALIKES).index(case)
    for cached in images.glob(f"*-{size}-RGB.npy*"):  # decoded afresh: the cache folder is written
        cached.unlink()
    o = fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1",
                "--set", f"size={size}", "--out", d / "r.json")
    assert o.rc == 0, o.err
    write_tiny(d / "ds")  # a prepare whose --out sits in the same folder
    write_text(d / "r.json", "again")  # a second atomic write over the first
    missing = [p for p in kept if not p.exists()]
    contents = {p.read_text() for p in kept if p.exists()}
    for p in kept:  # leave the shared cache folder as it was
        top = images / p.relative_to(images).parts[0] if p.is_relative_to(images) else None
        if top is not None and top.exists():
            shutil.rmtree(top) if top.is_dir() else top.unlink()
    assert not missing, f"deleted the user's {missing}"
    assert contents <= {"mine", "two years of work", '{"pid": 4194304}'}


@pytest.mark.parametrize("fake", ["other-pid-namespace", "other-host"])
def test_another_containers_in_flight_temp_survives(fake, tmp_path):
    """Two containers share FSBENCH_HOME: one is half-way through a cache write while the other
    writes into the same folder. The first one's temp must survive and its write complete."""
    folder = cache_dir("models") / f"shared-{fake}-{os.getpid()}"
    folder.mkdir(parents=True)
    target, started, go = folder / "m.pt", tmp_path / "started", tmp_path / "go"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, target, started, go, fake],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(started, proc)
        assert _temps(folder)  # the other writer's temp is there, in flight
        write_text(folder / "other.pt", "this container's write")  # cleans stale temps of the folder
        go.touch()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert target.read_bytes() == b"half and the rest"
    assert _temps(folder) == []


@pytest.mark.parametrize("kind", ["results-file", "prepare-folder", "pixel-cache"])
def test_what_a_killed_writer_left_is_removed_by_the_next_write(kind, tmp_path, tiny_dir):
    """SIGKILL skips every cleanup: the next fsbench write into the same folder removes the temp
    (and its owner file), since its owner is gone; a live writer's temp in the same folder stays."""
    folder = {"results-file": tmp_path / "runs", "prepare-folder": tmp_path,
              "pixel-cache": cache_dir("images")}[kind]
    folder.mkdir(exist_ok=True)
    target = folder / {"results-file": "r.json", "prepare-folder": "ds", "pixel-cache": f"x-{os.getpid()}.npy"}[kind]
    procs = []
    for who in ("killed", "live"):
        started = tmp_path / f"started-{who}"
        procs.append(subprocess.Popen([sys.executable, "-c", HOLDER, target, started,
                                       "dir" if kind == "prepare-folder" else "file"]))
        _wait_for(started, procs[-1])
    try:
        assert len(_temps(folder, target.name)) == 4  # two temps, two owner files
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        if kind == "results-file":
            o = fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                        "--episodes", "1", "--set", "size=4", "--out", target)
            assert o.rc == 0, o.err
        elif kind == "prepare-folder":
            write_tiny(folder / "ds")
        else:
            for cached in folder.glob("*-37-RGB.npy*"):  # decoded afresh: the cache folder is written
                cached.unlink()
            o = fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                        "--episodes", "1", "--set", "size=37", "--out", tmp_path / "r.json")  # a new cache
            assert o.rc == 0, o.err
        left = _temps(folder, target.name)
        assert len(left) == 2, left  # the live writer's temp and its owner file
    finally:
        for p in procs:
            p.kill()
            p.wait()
    time.sleep(0.05)
    write_text(folder / "after.txt", "")  # both owners are gone now: nothing of theirs is left
    assert _temps(folder, target.name) == []
