"""Progress a log can show: without a terminal a run writes plain lines (what, n/N, elapsed, ETA)
per finished unit and a heartbeat at least every FSBENCH_PROGRESS_INTERVAL seconds; on a terminal
every bar shows an ETA from its first finished unit; --quiet keeps both off."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from rich.console import Console
from rich.progress import Progress

from fsbench import progress
from fsbench.progress import EtaColumn, duration, eta_seconds, progress_bar

LINE = re.compile(r"^\[fsbench\] (?P<what>.+): (?P<n>[\d.]+)/(?P<of>[\d.]+)(?: \w+)? \(elapsed \w+, (ETA \w+|ETA after "
                  r"the first unit|done)\)")


def _run(tiny_dir, tmp_path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "FSBENCH_QUIET"}
    env["FSBENCH_PROGRESS_INTERVAL"] = "0.2"
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:  # a file, as under nohup or in a CI log: no terminal
        proc = subprocess.run([sys.executable, "-c", "from fsbench.cli import main; main()", "run", "-m",
                               "pixels", "-d", str(tiny_dir), "-s", "leave-signer-out", "--shots", "1", "--episodes",
                               "2", "--out", str(tmp_path / "r.json")], stdout=subprocess.PIPE, stderr=stderr,
                              text=True, env=env, timeout=300)
    assert proc.returncode == 0, log.read_text()
    return log.read_text()


def test_a_run_with_stderr_in_a_file_writes_its_plan_then_a_line_per_fold(tiny_dir, tmp_path):
    text = _run(tiny_dir, tmp_path)
    plan = text.splitlines()[0]  # before any work: what it will do and for about how long
    assert plan.startswith("pixels on tiny/leave-signer-out: 3 fold(s), 3 episode group(s) × 1 S × up to 2 episodes")
    assert " · nothing to train · " in plan, plan
    assert "· estimate ≈" in plan and "an estimate)" in plan, plan
    folds = [m for m in map(LINE.match, text.splitlines()) if m and "folds" in m.group(0)]
    assert {m["n"] for m in folds} >= {"1", "2", "3"}, text  # tiny: 3 signers, a line as each fold ends
    assert all(m["of"] == "3" for m in folds)
    assert re.search(r"ETA \d+s\)", text), text


def test_quiet_keeps_progress_off(monkeypatch, capsys):
    from fsbench.cli import cli

    monkeypatch.delenv("FSBENCH_QUIET", raising=False)
    monkeypatch.setattr(progress, "console", Console(stderr=True, force_terminal=False))
    cli.main(["--quiet", "list", "splits"], standalone_mode=False)  # the flag sets FSBENCH_QUIET for the process
    with progress_bar() as bar:
        bar.advance(bar.add_task("folds", total=2, unit="folds"))
    assert os.environ.pop("FSBENCH_QUIET") == "1"
    assert "[fsbench]" not in capsys.readouterr().err


def test_heartbeat_while_one_unit_runs(monkeypatch, capsys):
    monkeypatch.delenv("FSBENCH_QUIET", raising=False)
    monkeypatch.setenv("FSBENCH_PROGRESS_INTERVAL", "0.1")
    monkeypatch.setattr(progress, "console", Console(stderr=True, force_terminal=False))
    with progress_bar() as outer:
        folds = outer.add_task("m on d/s", total=4, unit="folds")
        with progress_bar() as inner:
            inner.add_task("training", total=1000, unit="steps")
            time.sleep(0.6)  # one long unit: no advance, yet lines keep coming
        outer.advance(folds)
    lines = capsys.readouterr().err.splitlines()
    beats = [line for line in lines if "›" in line]
    assert len(beats) >= 3, lines
    assert "m on d/s: 0/4 folds" in beats[0] and "training: 0/1000 steps" in beats[0]
    assert re.search(r"m on d/s: 1/4 folds \(elapsed \ds, ETA \ds\)", lines[-1]), lines


def test_fine_steps_are_throttled_coarse_ones_are_not(monkeypatch, capsys):
    monkeypatch.delenv("FSBENCH_QUIET", raising=False)
    monkeypatch.setattr(progress, "console", Console(stderr=True, force_terminal=False))
    with progress_bar() as bar:
        images = bar.add_task("embedding", total=5000, unit="images")
        for _ in range(50):
            bar.advance(images, 100)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[-1].startswith("[fsbench] embedding: 5000/5000 images"), lines


def test_eta_counts_from_the_first_finished_unit():
    assert eta_seconds(100.0, 0, 5) is None
    assert eta_seconds(100.0, 1, 5) == 400.0
    assert eta_seconds(60.0, 30, 40) == 20.0  # a resumed step: units done in this run only
    assert [duration(s) for s in (4, 185, 7620)] == ["4s", "3m05s", "2h07m"]


def test_every_bar_on_a_terminal_shows_an_eta():
    view = Progress(console=Console(force_terminal=True))
    task = view.add_task("folds", total=5, first=0)
    column = EtaColumn()
    assert column.render(view.tasks[0]).plain == "ETA –"
    view.start_task(task)
    view.tasks[0].start_time -= 240  # one fold after four minutes: rich's 30 s window has no speed yet
    view.update(task, advance=1)
    assert column.render(view.tasks[0]).plain in ("ETA 16m00s", "ETA 16m01s")
