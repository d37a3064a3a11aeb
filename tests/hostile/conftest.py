"""The hostile-input suite's helpers: the CLI in-process, one-line-error checks, fake plugins, a count.

Every test here feeds fsbench one bad input or fault (a parametrized case each; hypothesis
examples are counted too) and fails on a traceback, a silent result, a lost or half-written
file, or a write outside the folder meant for it. The session ends with
`hostile cases: N` in the terminal summary.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import harness
from harness import fsbench, install_plugin

HERE = Path(__file__).resolve().parent
PASSED: set[str] = set()
FAILED: set[str] = set()


def pytest_runtest_logreport(report):
    if Path(report.fspath).resolve().parent != HERE:
        return
    if report.when == "call" and report.passed:
        PASSED.add(report.nodeid)
    elif report.failed:
        FAILED.add(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    if PASSED or FAILED:
        terminalreporter.write_line(
            f"hostile cases: {len(PASSED) + harness.FUZZED[0]} passed ({len(PASSED)} cases + "
            f"{harness.FUZZED[0]} fuzzed inputs), {len(FAILED)} failed"
        )


@pytest.fixture(scope="module")
def plugin_root(tmp_path_factory):
    """A sys.path folder holding the suite's fake plugin distributions (see test_hostile_plugins.py),
    installed for one module only: later tests must not see the broken plugins."""
    from fsbench import registry

    from plugin_sources import PLUGINS

    root = tmp_path_factory.mktemp("plugins")
    for dist, (modules, eps) in PLUGINS.items():
        install_plugin(root, dist, modules, eps)
    sys.path.insert(0, str(root))
    registry.refresh()
    yield root
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.startswith("hostile_")]:
        del sys.modules[name]
    registry.refresh()


@pytest.fixture(scope="session")
def tiny_results_path(tiny_dir, tmp_path_factory) -> Path:
    """A real results file: pixels (2×2 px, so not every query is right) on the tiny dataset, leave-signer-out, S=1,2."""
    path = tmp_path_factory.mktemp("results") / "pixels.json"
    outcome = fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1,2",
                      "--episodes", "3", "--set", "size=2", "--out", path)
    assert outcome.rc == 0, outcome.err
    return path
