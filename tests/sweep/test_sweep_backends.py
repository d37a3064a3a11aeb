"""`fsbench sweep` end to end on the tiny dataset: local backend vs a real Ray cluster, a Ray worker
killed mid-sweep, a local sweep interrupted with SIGINT and resumed, a failing cell.

The Ray cluster is started here (`ray start --head --block`, 127.0.0.1 only, 2 CPUs, its own
FSBENCH_HOME so Ray trains from scratch) and stopped at the end, even when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

# Before anything imports ray: the loopback interface only, no usage reports, and token
# authentication with a throwaway token shared by the test's head and driver (not ~/.ray's)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ["RAY_AUTH_MODE"] = "token"
os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)

pytest.importorskip("ray")

from fsbench.sweep.backends import LocalBackend, RayBackend  # noqa: E402
from fsbench.sweep.cells import identify  # noqa: E402
from fsbench.sweep.runner import SUMMARY, run_sweep  # noqa: E402
from fsbench.sweep.spec import load_sweep  # noqa: E402

BIN = Path(sys.executable).parent
PROTONET = ('{ backbone = "conv4", width = 8, size = 28, episodes = 6, train_ways = 4, train_shots = 2, '
            'train_queries = 2, threads = 1 }')


def sweep_file(folder: Path, dataset: Path, failing: bool) -> Path:
    """pixels + protonet (tiny) × 2 seeds, and optionally one cell whose classifier does not exist."""
    text = f"""
dataset = "{dataset}"
split = "leave-signer-out"
shots = [1, 2]
episodes = 2
seeds = [0, 1]

[[run]]
method = "pixels"

[[run]]
method = "protonet"
config = {PROTONET}
"""
    if failing:
        text += '\n[[run]]\nmethod = "pixels"\nseeds = [0]\nconfig = { classifier = "no-such-rule" }\n'
    path = folder / ("with-failure.toml" if failing else "tiny.toml")
    path.write_text(text)
    return path


def cells_of(path: Path, out: Path):
    return identify(load_sweep(path)[1], out)


def numbers(path: Path) -> tuple:
    """What must be identical between backends: every metric and every episode row."""
    doc = json.loads(path.read_text())
    return doc["metrics"], doc["episodes"], doc["split"]["manifest_sha256"], doc["protocol"]["episodes_sha256"]


@pytest.fixture(scope="module")
def local_reference(tiny_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    cells = cells_of(sweep_file(folder, tiny_dir, failing=True), folder / "out")
    summary = run_sweep(cells, LocalBackend(), folder / "out")
    return cells, summary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """(address, FSBENCH_HOME) of a real Ray head on 127.0.0.1 with 2 CPUs; its FSBENCH_HOME marks
    its workers, and everything it started dies with its process group."""
    port = free_port()
    home = tmp_path_factory.mktemp("ray-fsbench-home")
    temp = tempfile.mkdtemp(prefix="fsr-", dir="/tmp")  # short: Ray's socket paths live under it
    log = open(tmp_path_factory.mktemp("ray-log") / "head.log", "w")
    env = {**os.environ, "FSBENCH_HOME": str(home), "FSBENCH_QUIET": "1"}
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         "--node-ip-address=127.0.0.1", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert head.poll() is None, f"ray start exited: {Path(log.name).read_text()[-2000:]}"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the Ray head did not come up within 90 s")
        yield f"127.0.0.1:{port}", str(home)
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # whatever of ours is left: only this process group
        except ProcessLookupError:
            pass
        head.wait(timeout=10)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_joined(ray_head):
    """One driver connection (made the way `--address` makes it) for every Ray test: one set of warm workers."""
    ray, owned = RayBackend(ray_head[0]).connect()
    assert owned
    yield ray_head
    ray.shutdown()


def test_local_sweep_records_the_failing_cell_and_computes_the_others(local_reference):
    cells, summary = local_reference
    assert [summary.status[c.key] for c in cells] == ["done"] * 4 + ["failed"]
    error = summary.errors[cells[-1].key]
    assert "no-such-rule" in error and "\n" not in error
    assert not cells[-1].path.exists()
    listed = json.loads((cells[0].path.parent / SUMMARY).read_text())["cells"]
    assert [c["status"] for c in listed] == ["done"] * 4 + ["failed"] and listed[-1]["error"] == error


def test_ray_cluster_gives_identical_numbers_cell_by_cell(local_reference, ray_joined, tmp_path):
    cells, _ = local_reference
    ray_cells = cells_of(sweep_file(tmp_path, Path(cells[0].spec.dataset), failing=True), tmp_path / "out")
    assert [c.key for c in ray_cells] == [c.key for c in cells]  # same identity, whatever the backend
    summary = run_sweep(ray_cells, RayBackend(ray_joined[0]), tmp_path / "out")
    assert [summary.status[c.key] for c in ray_cells] == ["done"] * 4 + ["failed"]
    assert summary.errors[ray_cells[-1].key] == local_reference[1].errors[cells[-1].key]
    for mine, theirs in zip(ray_cells[:4], cells[:4]):
        assert mine.path.name == theirs.path.name
        assert numbers(mine.path) == numbers(theirs.path)
    assert {summary.runs[c.key]["pid"] for c in ray_cells[:4]}.isdisjoint({os.getpid()})  # ran in Ray workers


def running_cells(home: str) -> dict[int, str]:
    """pid → cell name of every worker of *our* Ray head (its FSBENCH_HOME) executing a cell now."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
            ours = f"FSBENCH_HOME={home}".encode() in (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if ours and cmd.startswith("ray::fsbench-cell:"):
            found[int(proc.name)] = cmd.removeprefix("ray::fsbench-cell:")
    return found


def test_a_killed_ray_worker_is_retried_and_the_numbers_do_not_change(local_reference, ray_joined, tmp_path):
    cells, _ = local_reference
    ray_cells = cells_of(sweep_file(tmp_path, Path(cells[0].spec.dataset), failing=False), tmp_path / "out")
    done: dict = {}
    address, home = ray_joined
    sweep = threading.Thread(target=lambda: done.update(s=run_sweep(ray_cells, RayBackend(address), tmp_path / "out")))
    sweep.start()
    killed: dict[int, str] = {}
    deadline = time.monotonic() + 60
    while not killed and sweep.is_alive() and time.monotonic() < deadline:
        for pid, name in running_cells(home).items():
            os.kill(pid, signal.SIGKILL)
            killed[pid] = name
            break
        time.sleep(0.02)
    sweep.join(timeout=120)
    assert not sweep.is_alive(), "the sweep did not finish within 120 s of the kill"
    assert killed, "no Ray worker was seen running a cell"
    summary = done["s"]
    assert all(summary.status[c.key] == "done" for c in ray_cells)
    (pid, name), = killed.items()
    victim = next(c for c in ray_cells if c.name == name)
    assert summary.runs[victim.key]["pid"] != pid  # computed again, by another worker
    for mine, theirs in zip(ray_cells, cells[:4]):
        assert numbers(mine.path) == numbers(theirs.path)


def test_sigint_then_rerun_computes_only_the_missing_cells(local_reference, tiny_dir, tmp_path):
    cells, _ = local_reference
    path = sweep_file(tmp_path, tiny_dir, failing=True)
    out = tmp_path / "out"
    env = {**os.environ, "FSBENCH_HOME": str(tmp_path / "home"), "FSBENCH_QUIET": "1"}  # cold: protonet trains
    command = [str(BIN / "fsbench"), "sweep", str(path), "--out", str(out)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not list(out.glob("pixels__*.json")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*__seed*.json")}
    assert 1 <= len(first) < 4, f"SIGINT should land mid-sweep, found {sorted(first)}"
    status = {c["name"]: c["status"] for c in json.loads((out / SUMMARY).read_text())["cells"]}
    assert sorted(n + ".json" for n, s in status.items() if s == "done") == sorted(first)

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 2  # the failing cell: one line for it, one line for the sweep
    failed_lines = [line for line in rerun.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed_lines) == 1 and "no-such-rule" in failed_lines[0], rerun.stderr
    assert f"{len(first)} already done" in rerun.stdout
    for name, mtime in first.items():
        assert (out / name).stat().st_mtime_ns == mtime  # not recomputed, not rewritten
    for cell in cells[:4]:
        assert numbers(out / cell.path.name) == numbers(cell.path)


def test_a_sweep_folder_publishes_one_entry_per_run_pooled_over_seeds(local_reference, tmp_path, capsys):
    from fsbench.boards.aggregate import entries_of
    from fsbench.boards.leaderboard import publish, read_board
    from fsbench.boards.render import show
    from rich.console import Console

    cells, _ = local_reference
    groups = entries_of([cells[0].path.parent])  # the sweep's --out: 4 results files and sweep.json
    assert sorted(len(g) for g in groups) == [2, 2]
    for first, *seeds in groups:
        board_path = publish(first, tmp_path, seeds=seeds)
    board = read_board(board_path)
    docs = {c.spec.seed: json.loads(c.path.read_text()) for c in cells[:4] if c.spec.method == "pixels"}
    entry = next(e for e in board["entries"] if e["method"]["name"] == "pixels")
    assert entry["seeds"] == [0, 1] and [s["seed"] for s in entry["manifest"]["seeds"]] == [0, 1]
    for key, m in entry["metrics"].items():
        rows = [r for d in docs.values() for r in d["episodes"] if f"S={r['shots']}" == key]
        assert m["top1"]["mean"] == pytest.approx(sum(r["top1_correct"] for r in rows) / sum(r["n_query"] for r in rows))
        assert m["n_episodes"] == sum(d["metrics"][key]["n_episodes"] for d in docs.values())
        per_seed = [docs[s]["metrics"][key]["top1"]["mean"] for s in (0, 1)]
        assert m["top1"]["seeds"]["values"] == {"0": per_seed[0], "1": per_seed[1]}
        assert m["top1"]["seeds"]["std"] == pytest.approx(abs(per_seed[0] - per_seed[1]) / 2 ** 0.5)
        lo, hi = m["top1"]["ci95"]
        assert lo <= m["top1"]["mean"] <= hi
    show(board_path.stem, tmp_path, "markdown", None, Console(width=200))
    text = capsys.readouterr().out
    assert "± = sd over seeds (2 seeds)" in text
    pixels_row = next(line for line in text.splitlines() if "| pixels |" in line)
    assert pixels_row.count(" ±") == 3  # top-1 at both S and top-2: mean ±sd [CI]


def test_verify_runs_pools_an_entrys_seeds_as_publish_does(local_reference, tiny_dir, tmp_path):
    from fsbench.boards.aggregate import entries_of
    from fsbench.boards.leaderboard import publish
    from fsbench.boards.verify import check, verify_runs

    cells, _ = local_reference
    out = cells[0].path.parent
    for first, *seeds in entries_of([out]):
        board_path = publish(first, tmp_path, seeds=seeds)
    found = verify_runs(board_path.stem, tmp_path, out, dataset=str(tiny_dir))
    assert sorted(v.method for v in found) == ["pixels", "protonet"]
    assert all(not v.mismatches and not v.missing for v in found)
    assert all(r["delta"] == 0 and r["inside_ci"] for v in found for r in v.rows)
    check(found)


def test_verify_runs_checks_a_one_seed_entry_against_its_own_cell_of_a_many_seed_sweep(local_reference, tiny_dir,
                                                                                      tmp_path):
    """A board made before it pooled seeds is verified against the regenerating sweep's folder,
    which holds more seeds than the entry: only the entry's own seed is compared."""
    from fsbench.boards.leaderboard import publish, read_board
    from fsbench.boards.verify import check, verify_runs

    cells, _ = local_reference
    seed0 = next(c for c in cells if c.spec.method == "protonet" and c.spec.seed == 0)
    board_path = publish(seed0.path, tmp_path)
    assert "seeds" not in read_board(board_path)["entries"][0]
    (found,) = verify_runs(board_path.stem, tmp_path, seed0.path.parent, dataset=str(tiny_dir))
    assert not found.mismatches and not found.missing
    assert all(r["delta"] == 0 and r["inside_ci"] for r in found.rows)
    check([found])


def test_files_of_different_runs_are_not_one_entry(local_reference):
    from fsbench.errors import ResultsError
    from fsbench.boards.aggregate import entries_of

    cells, _ = local_reference
    with pytest.raises(ResultsError, match="not one entry"):
        entries_of([cells[0].path, cells[2].path])  # pixels and protonet
