"""Hints name the command the user can type: `fsbench` where it is on PATH, else the path that ran
(`.ci/setup` leaves `.venv/bin/fsbench`, not an activated environment)."""

from __future__ import annotations

import sys

from fsbench.cli import console


def test_hints_name_the_command_the_user_ran(monkeypatch, tmp_path):
    exe = tmp_path / ".venv" / "bin" / "fsbench"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/fsbench", "run"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert console.command() == ".venv/bin/fsbench"
    said = console.hints("run `fsbench prepare folder --raw X`, then fsbench run -m pixels; fsbench stopped; my-fsbench run")
    assert said == "run `.venv/bin/fsbench prepare folder --raw X`, then .venv/bin/fsbench run -m pixels; fsbench stopped; " \
                   "my-fsbench run"
    monkeypatch.setenv("PATH", str(exe.parent))  # activated: plain `fsbench` works
    assert console.command() == "fsbench"
    assert console.hints("fsbench run") == "fsbench run"
