"""Inputs are checked before any work, the size of the work is bounded or announced, and OS errors
name their cause wherever they surface (issue 25, cases 13 and 14)."""

from __future__ import annotations

import contextlib
import importlib.util
import resource
import signal
import socket
import threading
import time

import pytest

from fsbench.api import PoseBackbone
from fsbench.cli.failures import one_line
from fsbench.testing import tiny_image
from harness import fsbench, fsbench_process, refused

RUN = ("run", "-m", "pixels", "-s", "leave-signer-out", "--shots", "1", "--set", "size=4")


@contextlib.contextmanager
def file_size_limit(nbytes: int):
    """Writes past `nbytes` fail with EFBIG, as on a full disk (SIGXFSZ ignored, so it is an OSError)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


class WideBackbone(PoseBackbone):
    """8192 features an image: the tiny dataset's feature cache is 1.5 MB."""

    input_size, channels, feature_dim = (8, 8), 3, 8192

    def features(self, images):
        return images.flatten(1)[:, :1].repeat(1, self.feature_dim)

    def fingerprint(self) -> str:
        return "wide-backbone-for-a-full-disk"


# ------------------------------------------------------------------ 14: OS errors named by their cause


def test_full_disk_in_the_feature_cache_is_a_disk_line_not_the_methods_fault(tiny):
    from fsbench.evaluation.contract import plugin_step
    from fsbench.features import backbone_features

    method = type("M", (), {"name": "wide", "distribution": "someone-else"})()
    tiny.view().images(8, "RGB")  # the pixel cache first: only the feature cache meets the limit
    with pytest.raises(BaseException) as caught, file_size_limit(256 * 1024):
        with plugin_step(method, "fit"):
            backbone_features(WideBackbone(), tiny.view())
    message, code = one_line(caught.value)
    assert code == 2 and message.startswith("disk full at ") and "cache/features" in message, message
    assert "authors" not in message


def test_full_disk_in_the_datasets_cache_is_a_disk_line_not_a_broken_dataset(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "home"))  # an empty cache: datasets must write it
    with file_size_limit(20_000):
        outcome = fsbench(*RUN, "-d", tiny_dir, "--out", tmp_path / "r.json")
    line = refused(outcome, "disk full at ", "cache/hf")
    assert "re-create" not in line and "prepare" not in line


def test_full_disk_while_prepare_writes_names_the_dataset_and_leaves_nothing(tmp_path):
    from fsbench.testing import write_tiny

    with pytest.raises(OSError) as caught, file_size_limit(20_000):
        write_tiny(tmp_path / "tiny")
    message, code = one_line(caught.value)
    assert code == 2 and message.startswith(f"disk full at {tmp_path / 'tiny'}:"), message
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("seed", [2**64, 2**32])
def test_seed_out_of_range_is_refused_up_front(tiny_dir, tmp_path, seed):
    line = refused(fsbench(*RUN, "-d", tiny_dir, "--seed", seed, "--out", tmp_path / "r.json"), "--seed")
    assert "4294967295" in line and "plugin" not in line and "dataset" not in line


@pytest.mark.parametrize("where", ["api", "sweep"])
def test_seed_out_of_range_is_refused_by_the_api_and_sweeps(tiny_dir, tmp_path, where):
    if where == "api":
        from fsbench.errors import ProtocolError
        from fsbench.evaluation.runner import RunRequest, run

        with pytest.raises(ProtocolError, match="--seed must be an integer from 0 to 4294967295"):
            run(RunRequest("pixels", str(tiny_dir), "leave-signer-out", seed=2**64))
    else:
        refused(fsbench("sweep", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--seeds", f"0,{2**64}",
                        "--out", tmp_path / "sw"), "seed", "≤ 4294967295")


def test_local_sweep_cpus_beyond_the_machine_are_refused_up_front(tiny_dir, tmp_path):
    line = refused(fsbench("sweep", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--cpus", "100000",
                           "--out", tmp_path / "sw"), "100,000 CPUs", "this machine has")
    assert "dataset" not in line and not (tmp_path / "sw" / "sweep.json").exists()


@pytest.mark.parametrize("size", [0, -5, 7, 100000])
def test_prepare_folder_size_out_of_range(tmp_path, size):
    raw = tmp_path / "raw"
    for c in "ab":
        for s in (1, 2):
            (raw / c).mkdir(parents=True, exist_ok=True)
            (raw / c / f"s{s}_1.png").write_bytes(tiny_image(ord(c) - 97, s, 0))
    line = refused(fsbench("prepare", "folder", "--raw", raw, "--name", "mine", "--pattern", "{label}/{signer}_{*}.png",
                           "--size", size, "--out", tmp_path / "mine"), "--size", "from 8 to 1024")
    assert "no images" not in line and not (tmp_path / "mine").exists()


# ------------------------------------------------------------------ 13: the size of the work


def test_twenty_million_episodes_are_refused_with_the_estimate(tiny_dir, tmp_path):
    """Under `MAX_EPISODES` (which refuses a billion outright) but past the rows tiny's groups allow."""
    t0 = time.perf_counter()
    line = refused(fsbench(*RUN, "-d", tiny_dir, "--episodes", "20000000", "--out", tmp_path / "r.json"),
                   "--episodes 20,000,000", "60,000,000 episodes", "GB", "or fewer")
    assert time.perf_counter() - t0 < 30, line


def test_a_run_announces_its_size_before_it_starts(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FSBENCH_QUIET", "0")
    outcome = fsbench(*RUN, "-d", tiny_dir, "--episodes", "3", "--out", tmp_path / "r.json")
    assert outcome.rc == 0, outcome.err
    assert "3 fold(s), 3 episode group(s) × 1 S × up to 3 episodes = 9 episodes" in outcome.err


GRID = ("sweep", "-m", "pixels", "-s", "leave-signer-out", "--dry-run")


@pytest.mark.parametrize("grid", [(101, 100), (1600, 1600)], ids=["10100-cells", "2.56M-cells"])
def test_a_sweep_grid_beyond_the_cell_bound_is_refused_before_any_cell(tiny_dir, tmp_path, grid):
    flags = [f"--grid=k{i}=" + ",".join(map(str, range(n))) for i, n in enumerate(grid)]
    t0 = time.perf_counter()
    refused(fsbench(*GRID, "-d", tiny_dir, *flags, "--out", tmp_path / "sw"),
            f"{grid[0] * grid[1]:,} cells", "at most 10,000")
    assert time.perf_counter() - t0 < 10


def test_a_sweep_file_beyond_the_cell_bound_is_refused(tiny_dir, tmp_path):
    runs = "".join(f'[[run]]\nmethod = "pixels"\nseeds = {list(range(i * 5001, (i + 1) * 5001))}\n' for i in range(2))
    (tmp_path / "big.toml").write_text(f'dataset = "{tiny_dir}"\nsplit = "leave-signer-out"\n{runs}')
    refused(fsbench("sweep", tmp_path / "big.toml", "--dry-run", "--out", tmp_path / "sw"), "10,002 cells", "at most 10,000")


def test_a_sweep_announces_its_cells_before_the_first_runs(tiny_dir, tmp_path):
    outcome = fsbench("sweep", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                      "--episodes", "2", "--set", "size=4", "--out", tmp_path / "sw")
    assert outcome.rc == 0, outcome.err
    first = outcome.out.splitlines()[0]
    assert first.startswith("sweep of 1 cells") and "1 to run, 0 already done" in first, outcome.out


@contextlib.contextmanager
def listener(kind: str):
    """A 127.0.0.1 port where something that is not Ray listens: silent, or an HTTP server."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if kind == "http":
                with contextlib.suppress(OSError):
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize("kind", ["silent", "http"])
def test_ray_address_probe_refuses_what_is_not_a_ray_head(kind):
    from fsbench.sweep.backends import PROBE_S, RayBackend
    from fsbench.sweep.spec import SweepError

    with listener(kind) as port:
        t0 = time.perf_counter()
        with pytest.raises(SweepError, match=rf"something listens at 127.0.0.1:{port} but it is not a Ray head"):
            RayBackend._check_reachable(f"127.0.0.1:{port}")
        assert time.perf_counter() - t0 < PROBE_S + 5


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")
def test_ray_sweep_at_a_silent_port_ends_in_one_line_not_a_hang(tiny_dir, tmp_path):
    """Before the probe, `ray.init` retried such a port for over two minutes (measured 122 s)."""
    with listener("silent") as port:
        t0 = time.perf_counter()
        proc = fsbench_process("sweep", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--backend", "ray",
                               "--address", f"127.0.0.1:{port}", "--out", tmp_path / "sw")
        try:
            _, err = proc.communicate(timeout=110)  # a loaded machine imports torch and Ray slowly
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, err
    assert "not a Ray head" in lines[0] and f"127.0.0.1:{port}" in lines[0], lines
    assert time.perf_counter() - t0 < 110


def test_a_confusion_figure_never_builds_the_matrix_of_every_class_named():
    """Third audit: `fsbench report` built the (C, C) matrix of every class a results file names
    before keeping the queried ones: 100 000 class names (a 1 MB file) asked for 80 GB. The figure
    is now built from the sparse cells; a claimed 10⁹ classes must cost nothing."""
    from fsbench.report.figures import confusion_png

    shot = {"confusion": {"classes": 10**9, "cells": [[0, 0, 3], [1, 0, 1], [1, 1, 2]]}, "top1": {"mean": 0.8}}
    assert confusion_png(shot, ["a", "b"], "t").startswith(b"\x89PNG")


def test_a_report_over_more_classes_than_a_figure_draws_is_one_line(tiny_results_path, tmp_path):
    """Third audit: a confusion whose cells span more classes than MAX_FIGURE_CLASSES is refused
    before any figure is written (its matrix grows with the square)."""
    import json

    from fsbench.limits import MAX_FIGURE_CLASSES

    doc = json.loads(tiny_results_path.read_text())
    n = MAX_FIGURE_CLASSES + 1
    doc["dataset"]["class_names"] = [f"c{i}" for i in range(n)]
    for shot in doc["metrics"].values():
        shot["confusion"] = {"classes": n, "cells": [[i, i, 1] for i in range(n)]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    refused(fsbench("report", path, "--out", tmp_path / "rep"), f"spans {n:,} classes")
    assert not (tmp_path / "rep").exists()
