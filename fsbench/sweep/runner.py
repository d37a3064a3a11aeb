"""Running a sweep: skip finished cells, write each result as it lands, record failures, show progress.

Results are written by `write_results` (validated, atomic) the moment a cell finishes, so an
interrupted sweep loses at most the cells in flight and a re-run of the same command computes
only what is missing. `sweep.json` in the output folder lists every cell with its status, its
one-line error if it failed, and where and how long it ran; it is rewritten (atomically) after
every cell, so it is current even after Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsbench.errors import FsbenchError
from fsbench.cost import time_phrase
from fsbench.evaluation.runner import work_of
from fsbench.progress import progress_bar
from fsbench.record.document import write_json_atomic, write_results
from fsbench.sweep.backends import LocalBackend, Outcome, RayBackend, one_line
from fsbench.sweep.cells import Cell, is_done

SUMMARY = "sweep.json"


@dataclass
class Summary:
    out_dir: Path
    backend: str
    cells: list[Cell]
    status: dict[str, str] = field(default_factory=dict)  # key → pending | skipped | done | failed
    errors: dict[str, str] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → host, pid, wall_s (, traceback)
    wall_s: float = 0.0

    def of(self, status: str) -> list[Cell]:
        return [c for c in self.cells if self.status[c.key] == status]

    def line(self) -> str:
        n = {s: len(self.of(s)) for s in ("done", "skipped", "failed", "pending")}
        text = (f"sweep of {len(self.cells)} cells → {self.out_dir}: {n['done']} computed, {n['skipped']} already done, "
                f"{n['failed']} failed")
        if n["pending"]:
            text += f", {n['pending']} not run"
        return text + f" ({self.backend} backend, {self.wall_s:.0f} s)"

    def document(self) -> dict[str, Any]:
        return {
            "sweep_version": 1,
            "updated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "backend": self.backend,
            "wall_s": round(self.wall_s, 3),
            "cells": [{
                "name": c.name, "key": c.key, "status": self.status[c.key], "error": self.errors.get(c.key),
                "results": c.path.name, "method": c.spec.method, "dataset": c.spec.dataset, "split": c.spec.split,
                "seed": c.spec.seed, "shots": list(c.spec.shots), "episodes": c.spec.episodes, "ways": c.spec.ways,
                "cross_condition": c.spec.cross_condition, "dev": c.spec.dev, "config": c.spec.config,
                "config_hash": c.config_hash, "cpus": c.spec.cpus, **self.runs.get(c.key, {}),
            } for c in self.cells],
        }


def run_sweep(cells: list[Cell], backend: LocalBackend | RayBackend, out_dir: Path,
              announce: Callable[[str], None] | None = None) -> Summary:
    """Compute every cell whose results file is missing; return who did what. `announce` is told the
    size of the work (cells to run, cells done) before the first cell starts."""
    out_dir = Path(out_dir)
    summary = Summary(out_dir, backend.name, cells)
    todo = []
    for cell in cells:
        summary.status[cell.key] = "skipped" if is_done(cell) else "pending"
        if summary.status[cell.key] == "pending":
            todo.append(cell)
    if announce is not None:  # one line: the cells, and what the ones to run will cost
        announce(f"sweep of {len(cells)} cells → {out_dir}: {len(todo)} to run, {len(cells) - len(todo)} already done "
                 f"({backend.name} backend)" + (f" · {sweep_estimate(todo)}" if todo else ""))
    t0 = time.perf_counter()
    with progress_bar() as bar, ctrl_c_noted() as interrupted:
        task = bar.add_task("sweep", total=len(todo), unit="cells")
        running = [0]

        def show(n_running: int | None = None) -> None:
            if n_running is not None:
                running[0] = n_running
            bar.update(task, completed=len(summary.of("done")) + len(summary.of("failed")),
                       description=f"sweep · {len(summary.of('done'))} done · {running[0]} running · "
                                   f"{len(summary.of('failed'))} failed")

        show()
        try:
            for cell, outcome in backend.run(todo, show):
                _record(summary, cell, outcome)
                show()
                summary.wall_s = time.perf_counter() - t0
                write_json_atomic(out_dir / SUMMARY, summary.document())
                if interrupted():
                    raise KeyboardInterrupt
        finally:
            summary.wall_s = time.perf_counter() - t0
            write_json_atomic(out_dir / SUMMARY, summary.document())
    return summary


def sweep_estimate(todo: list[Cell]) -> str:
    """The time the cells left to run take one after another (their work counted as `fsbench run`
    counts it), or why there is no estimate."""
    works = []
    for cell in todo:
        try:
            works.append(work_of(cell.spec.request()))
        except Exception:  # noqa: BLE001 - a broken cell fails in its turn, with its own line
            return f"no time estimate: cell {cell.name} cannot be planned"
    return f"{sum(w.folds for w in works)} folds, one cell after another: {time_phrase(works)}"


@contextmanager
def ctrl_c_noted() -> Iterator[Callable[[], bool]]:
    """Ctrl-C raises KeyboardInterrupt as usual and is also remembered: Python drops one that lands
    inside a finaliser ("Exception ignored in ..."), and the sweep must still stop after the cell."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # only the main thread receives signals
        return
    seen: list[int] = []

    def note(signum: int, frame: Any) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


def _record(summary: Summary, cell: Cell, outcome: Outcome) -> None:
    summary.runs[cell.key] = {k: outcome[k] for k in ("host", "pid", "wall_s", "traceback") if k in outcome}
    if outcome["status"] == "done":
        try:
            write_results(cell.path, outcome["results"])
        except FsbenchError as exc:  # e.g. a method whose document fails the schema
            outcome = {"status": "failed", "error": one_line(exc)}
    summary.status[cell.key] = outcome["status"]
    if outcome["status"] == "failed":
        summary.errors[cell.key] = outcome["error"]
