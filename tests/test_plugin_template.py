"""A third-party plugin, installed with pip, is listed and runs through `fsbench run`.

This installs docs/examples/plugin-template into the test environment (no dependencies, no
network), exactly as a user would, and uninstalls it afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fsbench.record.document import read_results

TEMPLATE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "plugin-template"


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def installed_template():
    proc = pip("install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(TEMPLATE))
    assert proc.returncode == 0, proc.stderr
    yield
    pip("uninstall", "-y", "-q", "fsbench-example-plugin")


def cli(*args: str) -> subprocess.CompletedProcess:
    code = "from fsbench.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def test_pip_installed_plugin_is_listed_and_runs(installed_template, tiny_dir, tmp_path):
    listed = cli("list", "methods")
    assert "random-projection" in listed.stdout and "fsbench-example-plugin" in listed.stdout
    out = tmp_path / "rp.json"
    proc = cli("run", "--method", "random-projection", "--dataset", str(tiny_dir),
               "--split", "leave-signer-out", "--shots", "1,2", "--episodes", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    results = read_results(out)
    assert results["method"]["name"] == "random-projection"
    assert results["method"]["distribution"] == "fsbench-example-plugin"
    assert results["metrics"]["S=2"]["top1"]["mean"] > 0.5  # far above chance (0.25) on the bars
