"""Helpers of the hostile-input suite: the CLI in-process, the one-line-error check, fake plugins."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path


FUZZED: list[int] = [0]


def fuzzed() -> None:
    """Count one hypothesis example (called inside a fuzzed test body; the conftest prints the total)."""
    FUZZED[0] += 1


@dataclass
class Outcome:
    rc: int
    out: str
    err: str

    @property
    def error(self) -> str:
        """The one error line (asserting it is the only thing on stderr and no traceback)."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert "Traceback" not in self.err, self.err
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{self.err}"
        assert lines[0].startswith("error: "), lines[0]
        return lines[0]


def fsbench(*args: object, cwd: Path | None = None) -> Outcome:
    """`fsbench ARGS` through `fsbench.cli.main`, in this process: exit code, stdout, stderr."""
    from fsbench.cli import main

    argv = ["fsbench", *map(str, args)]
    out, err = io.StringIO(), io.StringIO()
    old_argv, old_term, old_cwd = sys.argv, signal.getsignal(signal.SIGTERM), os.getcwd()
    old_format = warnings.formatwarning
    sys.argv = argv
    rc = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        signal.signal(signal.SIGTERM, old_term)
        warnings.formatwarning = old_format
        os.chdir(old_cwd)
    return Outcome(rc, out.getvalue(), err.getvalue())


def refused(outcome: Outcome, *needles: str, rc: int = 2) -> str:
    """Assert `outcome` is exactly one 'error: …' line with exit code `rc` holding every needle."""
    assert outcome.rc == rc, (outcome.rc, outcome.err[-2000:])
    line = outcome.error
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def fsbench_process(*args: object, env: dict | None = None, **kw) -> subprocess.Popen:
    """`fsbench ARGS` as a separate process (signals, inherited state), stdout/stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-c", "from fsbench.cli import main; main()", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, **kw,
    )


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path → bytes): to prove nothing was lost or added."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and p.suffix != ".lock"}  # a board's lock file is not content


# ---------------------------------------------------------------- fake plugin distributions


def install_plugin(root: Path, dist: str, modules: dict[str, str], entry_points: dict[str, dict[str, str]]) -> None:
    """A plugin distribution under `root` (which goes on sys.path): modules + a dist-info."""
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    from fsbench.registry import GROUPS

    lines = []
    for kind, eps in entry_points.items():
        lines.append(f"[{GROUPS[kind]}]")
        lines += [f"{k} = {v}" for k, v in eps.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())
