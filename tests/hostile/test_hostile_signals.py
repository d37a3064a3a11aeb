"""Signals and process boundaries: a killed prepare leaves no orphan workers; Ctrl-C and SIGTERM
are one line; `fsbench verify` re-runs an entry and catches a forged one."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from fsbench import paths
from harness import fsbench, fsbench_process, load, refused

MASSEY = paths.data_root() / "massey"


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not MASSEY.is_dir(), reason="real Massey data not at FSBENCH_DATA/massey")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_prepare_leaves_no_orphan_workers(sig, tmp_path):
    proc = fsbench_process("prepare", "massey", "--raw", MASSEY, "--out", tmp_path / "massey",
                           env={"FSBENCH_HOME": str(tmp_path / "home")})
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        time.sleep(0.2)
        workers = [c for c in children(proc.pid) if alive(c)]
    if not workers:
        proc.kill()
        pytest.skip("prepare finished before its pool started (single core?)")
    os.kill(proc.pid, sig)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 30, "the signal waited for the queued decodes to finish"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(w) for w in workers):
        time.sleep(0.2)
    assert not [w for w in workers if alive(w)], "pool workers outlived their parent"
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and err.strip().splitlines()[-1].startswith("error: terminated"), err
        assert "Traceback" not in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".massey.")]  # no temp folder kept


def wait_for_main(proc, timeout: float = 120) -> None:
    """Until `fsbench.cli.main` runs in `proc` (it catches SIGTERM from then on): a signal during the
    interpreter's imports, before main, is Python's, not fsbench's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.05)


def test_sigint_during_a_run_is_one_line(tiny_dir, tmp_path):
    proc = fsbench_process("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1,2",
                           "--episodes", "2000", "--set", "size=24", "--out", tmp_path / "r.json")
    wait_for_main(proc)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal")
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("error: interrupted") and "Traceback" not in err
    assert not (tmp_path / "r.json").exists() and not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def published(tiny_results_path, tmp_path_factory):
    boards = tmp_path_factory.mktemp("verify") / "boards"
    assert fsbench("publish", tiny_results_path, "--boards", boards).rc == 0
    return boards


def test_verify_reproduces_a_real_entry(published, tiny_dir):
    o = fsbench("verify", "tiny__leave-signer-out/pixels", "--boards", published, "--dataset", tiny_dir)
    assert o.rc == 0, o.err
    assert "reproduces" in o.out and "+0.00" in o.out


def test_verify_catches_a_forged_board_entry(published, tiny_dir, tmp_path):
    forged = tmp_path / "boards"
    forged.mkdir()
    board = load(published / "tiny__leave-signer-out.json")
    m = board["entries"][0]["metrics"]["S=2"]["top1"]
    m["mean"], m["ci95"] = 0.999, [0.99, 1.0]
    (forged / "tiny__leave-signer-out.json").write_text(json.dumps(board))
    o = fsbench("verify", "tiny__leave-signer-out#1", "--boards", forged, "--dataset", tiny_dir)
    refused(o, "does not reproduce", "outside the entry's 95 % CI at S=2", rc=1)


@pytest.mark.parametrize("entry, needle", [
    ("tiny__leave-signer-out/nosuch", "no entry for"), ("tiny__leave-signer-out#9", "no rank 9"),
    ("tiny__leave-signer-out#0", "no rank 0"), ("nosuchboard/pixels", "no leaderboard"),
    ("../../x/pixels", "no leaderboard"), ("", "is not BOARD/METHOD"),
])
def test_verify_bad_entry_names(entry, needle, published):
    refused(fsbench("verify", entry, "--boards", published), needle)


def test_verify_against_other_data_reports_the_hash(published, tmp_path):
    from fsbench.testing import write_tiny

    other = write_tiny(tmp_path / "tiny", per_cell=5)
    refused(fsbench("verify", "tiny__leave-signer-out/pixels", "--boards", published, "--dataset", other),
            "manifest differs", "dataset content hash", rc=1)
