"""Progress for people and for logs: the one progress view every long step goes through.

On a terminal, one rich live display holds a row per open step, nested (folds › training ›
embedding), each with an ETA measured from the step's start over its finished units: rich's own
estimate looks at the last 30 s only, so a fold bar that advances every few minutes never showed
one. Without a terminal (CI logs, `nohup`, a cluster job) the same steps print plain lines on
stderr: one per finished unit of a coarse step (≤ COARSE units: folds, methods, cells), at most one
per FINE_GAP seconds for a fine one (images, training steps), and a heartbeat line of every open
step at least every FSBENCH_PROGRESS_INTERVAL seconds (default 30) even while one unit runs for
minutes. FSBENCH_QUIET=1 (`fsbench --quiet`, the tests, worker processes) turns both off.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

#: logs get long lines, not rich's 80-column folding
console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
#: a step with at most this many units logs every finished unit; a larger one at most every FINE_GAP s
COARSE = 50
FINE_GAP = 10.0


def quiet() -> bool:
    return os.environ.get("FSBENCH_QUIET") == "1"


def interval() -> float:
    """Seconds between heartbeat lines without a terminal (FSBENCH_PROGRESS_INTERVAL, tests use less)."""
    try:
        return max(0.05, float(os.environ.get("FSBENCH_PROGRESS_INTERVAL", "30")))
    except ValueError:
        return 30.0


def duration(seconds: float) -> str:
    """4s, 3m05s, 2h07m: short enough for a log line."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def eta_seconds(elapsed: float, done: float, total: float | None) -> float | None:
    """Time left at the step's mean rate so far; None before its first finished unit."""
    if total is None or done <= 0:
        return None
    return max(0.0, elapsed / done * (total - done))


@dataclass
class Step:
    """One open step as the log view tracks it."""

    description: str
    total: float | None
    completed: float = 0
    unit: str = ""
    first: float = 0  # units already done when it opened (a resumed training)
    started: float = field(default_factory=time.monotonic)
    last_line: float = 0.0

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        of = f"/{self.total:g}" if self.total is not None else ""
        unit = f" {self.unit}" if self.unit else ""
        left = eta_seconds(elapsed, self.completed - self.first, self.total and self.total - self.first)
        eta = f", ETA {duration(left)}" if left is not None else ", ETA after the first unit"
        if self.total is not None and self.completed >= self.total:
            eta = ", done"
        return f"{self.description}: {self.completed:g}{of}{unit} (elapsed {duration(elapsed)}{eta})"


class LogView:
    """The view without a terminal: plain lines, and a heartbeat thread while any step is open."""

    def __init__(self) -> None:
        self.steps: dict[int, Step] = {}
        self.lock = threading.Lock()
        self.last_any = time.monotonic()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.next_id = 0

    def start(self) -> None:
        self.stop.clear()
        self.thread = threading.Thread(target=self._beat, name="fsbench-progress", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=1)

    def _emit(self, text: str) -> None:
        self.last_any = time.monotonic()
        print(f"[fsbench] {text}", file=sys.stderr, flush=True)

    def _beat(self) -> None:
        while not self.stop.wait(min(1.0, interval() / 4)):
            with self.lock:
                if self.steps and time.monotonic() - self.last_any >= interval():
                    self._emit(" › ".join(s.line() for s in self.steps.values()))

    def add(self, step: Step) -> int:
        with self.lock:
            self.next_id += 1
            self.steps[self.next_id] = step
            return self.next_id

    def update(self, key: int, advance: float | None, completed: float | None, description: str | None,
               total: float | None) -> None:
        """Change a step; log a line when a unit finished and the step's pace allows one."""
        with self.lock:
            step = self.steps.get(key)
            if step is None:
                return
            before = step.completed
            step.completed = completed if completed is not None else step.completed + (advance or 0)
            step.description = description or step.description
            step.total = total if total is not None else step.total
            if step.completed == before:
                return
            now = time.monotonic()
            finished = step.total is not None and step.completed >= step.total
            coarse = step.total is not None and step.total <= COARSE
            if finished or coarse or now - step.last_line >= FINE_GAP:
                step.last_line = now
                self._emit(step.line())

    def remove(self, key: int) -> None:
        with self.lock:
            self.steps.pop(key, None)


class EtaColumn(ProgressColumn):
    """ETA from the step's start over its finished units (rich's own looks at the last 30 s only)."""

    def render(self, task: Task) -> Text:
        first = task.fields.get("first", 0)
        left = eta_seconds(task.elapsed or 0.0, task.completed - first, task.total and task.total - first)
        if task.finished:
            return Text("done", style="progress.remaining")
        return Text("ETA –" if left is None else f"ETA {duration(left)}", style="progress.remaining")


def _rich_view() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    EtaColumn(), console=console, transient=True)


class _Shared:
    """The one view open now, shared by nested bars (rich allows one live display at a time)."""

    view: Progress | LogView | None = None
    users = 0
    lock = threading.RLock()


class Bar:
    """What `progress_bar()` returns: add_task/advance/update like rich's Progress, over the shared view."""

    def __init__(self) -> None:
        self.tasks: list[int] = []
        self.console = console

    def __enter__(self) -> Bar:
        with _Shared.lock:
            if not quiet() and _Shared.view is None:
                _Shared.view = _rich_view() if console.is_terminal else LogView()
                _Shared.view.start()
            _Shared.users += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with _Shared.lock:
            view = _Shared.view
            for task in self.tasks:
                if isinstance(view, Progress):
                    view.remove_task(task)
                elif view is not None:
                    view.remove(task)
            _Shared.users -= 1
            if _Shared.users == 0 and view is not None:
                view.stop() if isinstance(view, Progress) else view.close()
                _Shared.view = None

    def add_task(self, description: str, total: float | None = None, completed: float = 0, unit: str = "") -> int:
        view = _Shared.view
        if isinstance(view, Progress):
            task = view.add_task(description, total=total, completed=completed, first=completed)
        elif view is not None:
            task = view.add(Step(description, total, completed, unit, completed))
        else:
            task = -1 - len(self.tasks)
        self.tasks.append(task)
        return task

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def update(self, task: int, *, advance: float | None = None, completed: float | None = None,
               description: str | None = None, total: float | None = None) -> None:
        view = _Shared.view
        if isinstance(view, Progress):
            view.update(task, advance=advance, completed=completed, description=description, total=total)
            return
        if view is not None:
            view.update(task, advance, completed, description, total)


def say(text: str) -> None:
    """One line on stderr for the person waiting (the plan before a run), unless quiet."""
    if not quiet():
        console.print(text, markup=False, highlight=False, soft_wrap=True)


def progress_bar() -> Bar:
    """A progress view on stderr: rich bars on a terminal, plain lines otherwise, nothing when quiet."""
    return Bar()
