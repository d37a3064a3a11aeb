"""A third-party plugin, installed with pip, is listed and runs through `fsbench run`.

This installs docs/examples/plugin-template into the test environment (no dependencies, no
network), exactly as a user would, and uninstalls it afterwards. The template registers the
same method twice: with a typed config (the way to write one) and with a plain-dict
`default_config` (how plugins were written before; it must keep working).
"""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("name", ["random-projection", "random-projection-dict"])
def test_pip_installed_plugin_is_listed_and_runs(installed_template, tiny_dir, tmp_path, name):
    listed = cli("list", "methods")
    assert name in listed.stdout and "fsbench-example-plugin" in listed.stdout
    out = tmp_path / "rp.json"
    proc = cli("run", "--method", name, "--dataset", str(tiny_dir), "--split", "leave-signer-out",
               "--shots", "1,2", "--episodes", "2", "--set", "dim=32", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    results = read_results(out)
    assert results["method"]["name"] == name and results["method"]["config"] == {"size": 24, "dim": 32,
                                                                                  "classifier": "prototype"}
    assert results["method"]["distribution"] == "fsbench-example-plugin"
    assert results["metrics"]["S=2"]["top1"]["mean"] > 0.5  # far above chance (0.25) on the bars
    info = cli("info", name)
    assert "dim" in info.stdout and ("embedding size" in info.stdout) == (name == "random-projection")
    bad = cli("run", "--method", name, "--dataset", str(tiny_dir), "--split", "leave-signer-out",
              "--set", "dimm=3", "--out", str(tmp_path / "bad.json"))
    assert bad.returncode == 2 and "nearest: 'dim'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_pip_installed_plugin_passes_the_registry_wide_contract_tests(installed_template):
    """tests/test_registered.py, parametrised over everything installed, run on the template's entries."""
    tests = Path(__file__).resolve().parent
    proc = subprocess.run([sys.executable, "-m", "pytest", str(tests / "test_registered.py"), str(tests / "test_configs.py"),
                           "-o", "addopts=", "-q", "-p", "no:cacheprovider", "-k", "random-projection"],
                          capture_output=True, text=True, timeout=600, cwd=tests.parent)
    assert proc.returncode == 0, proc.stdout[-2000:]
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed and int(passed.group(1)) >= 4, proc.stdout[-2000:]  # both methods' contract + config tests
