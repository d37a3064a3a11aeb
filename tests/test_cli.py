"""The CLI end to end, in subprocesses as a user runs it: exit codes, one-line errors, outputs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fsbench.record.document import read_results


def fsbench(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from fsbench.cli import main; main()", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )


def test_run_writes_valid_results_and_prints_a_table(tiny_dir, tmp_path):
    out = tmp_path / "r.json"
    proc = fsbench("run", "-m", "pixels", "-d", str(tiny_dir), "-s", "leave-signer-out",
                   "--shots", "0,2", "--episodes", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    results = read_results(out)
    assert set(results["metrics"]) == {"S=0", "S=2"}
    assert "top-1" in proc.stdout and str(out) in proc.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "-m", "pixel", "-d", "x", "-s", "leave-signer-out"], "Did you mean 'pixels'?"),
        (["run", "-m", "pixels", "-d", "nosuchdataset", "-s", "leave-signer-out"], "no dataset named"),
        (["run", "-m", "pixels", "-d", "TINY", "-s", "leave-signer-out", "--shots", "a,b"], "comma-separated"),
        (["run", "-m", "pixels", "-d", "TINY", "-s", "unseen-class", "--shots", "0"], "S=0"),
        (["run", "-m", "pixels", "-d", "TINY", "-s", "leave-signer-out", "--set", "sizee=3"], "no config key"),
        (["run", "-m", "pixels", "-d", "/no/such/folder", "-s", "leave-signer-out"], "/no/such/folder"),
        (["info", "nothing-like-this"], "no plugin named"),
        (["publish", "/no/such/results.json"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needle, tiny_dir):
    args = [str(tiny_dir) if a == "TINY" else a for a in args]
    proc = fsbench(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and needle in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr


def test_list_shows_every_group():
    proc = fsbench("list")
    assert proc.returncode == 0
    for kind in ("methods", "classifiers", "splits", "datasets", "heads"):
        assert kind in proc.stdout


def test_config_file_and_overrides(tiny_dir, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"size": 16, "classifier": {"n0": 3}}))
    out = tmp_path / "r.json"
    proc = fsbench("run", "-m", "pixels", "-d", str(tiny_dir), "-s", "leave-signer-out", "--shots", "1",
                   "--episodes", "1", "--config", str(cfg), "--set", "mode=\"L\"", "--set", "classifier.name=max",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert read_results(out)["method"]["config"] == {"size": 16, "mode": "L", "classifier": {"name": "max", "n0": 3.0}}
