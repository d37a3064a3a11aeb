"""Any exception → one line and an exit code: what `fsbench.cli.main` prints instead of a traceback.

Exit codes: 2 bad input or environment (an `FsbenchError`, a full disk, a read-only folder, too
little memory, a broken plugin), 1 an fsbench bug (the line says to re-run with --debug and
report it), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). A failure inside plugin code
names the plugin's module and its distribution, found from the traceback, so the user knows
whose bug it is and what to reinstall.
"""

from __future__ import annotations

import errno
import os
import signal
import warnings
from pathlib import Path
from types import TracebackType

import click

from fsbench.errors import FsbenchError, os_cause

INTERRUPTED = "interrupted; completed results were already written atomically"


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so `finally` blocks remove temp files before exit."""


def on_sigterm() -> None:
    """Turn SIGTERM into `Terminated` (only possible in the main thread)."""
    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        raise Terminated

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. an embedding application)
        pass


def one_line_warnings(debug: bool = False) -> None:
    """Warnings (a broken plugin skipped by `fsbench demo`, a library's deprecation) print as
    `warning: …` on one line; --debug keeps Python's file:line form."""
    if not debug:
        from fsbench.cli.console import hints

        warnings.formatwarning = lambda message, category, *args, **kwargs: (
            f"warning: {hints(' '.join(str(message).split()))}\n"
        )


def one_line(exc: BaseException) -> tuple[str, int]:
    """The message (without 'error: ') and exit code for `exc`."""
    if isinstance(exc, click.exceptions.Abort):  # click turns Ctrl-C (KeyboardInterrupt) into Abort
        return INTERRUPTED, 130
    if isinstance(exc, click.ClickException):
        return exc.format_message(), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED, 130
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM); completed results were already written atomically", 143
    if isinstance(exc, FsbenchError):
        return str(exc), getattr(exc, "exit_code", 2)
    if isinstance(exc, MemoryError) or _torch_oom(exc):
        return ("out of memory" + _where(exc) + "; use fewer images or a smaller batch/size config "
                "(--set), or a machine with more memory"), 2
    if isinstance(exc, OSError) and exc.errno is not None:
        return os_error(exc), 2
    if (cause := os_cause(exc)) is not None:  # a full disk inside a library's own exception
        return os_error(cause), 2
    plugin = blame(exc.__traceback__)
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, SystemExit):
        what = f"it called sys.exit({exc.code!r})"
    if plugin is not None:
        module, dist = plugin
        return f"plugin code {module} (distribution {dist!r}) failed: {_short(what)}; " \
               f"report it to {dist}'s authors or uninstall {dist} (--debug shows the traceback)", 2
    if isinstance(exc, SystemExit):
        return f"fsbench stopped: {what}; re-run with --debug", 1
    return f"internal error ({_short(what)}); re-run with --debug and report the traceback", 1


def last_resort(exc: BaseException) -> tuple[str, int]:
    """The line for `exc` when `one_line` itself failed (a MemoryError while naming a plugin):
    fixed text that allocates next to nothing."""
    if isinstance(exc, MemoryError):
        return "out of memory; use fewer images or a smaller batch/size config (--set), or a machine with more memory", 2
    if isinstance(exc, (KeyboardInterrupt, click.exceptions.Abort)):
        return INTERRUPTED, 130
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)", 143
    return "internal error while reporting an error; re-run with --debug and report the traceback", 1


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _torch_oom(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in str(exc) or type(exc).__name__ == "OutOfMemoryError"
    )


def _where(exc: BaseException) -> str:
    plugin = blame(exc.__traceback__)
    return f" in {plugin[0]} ({plugin[1]})" if plugin else ""


def _target(filename: object) -> str:
    """The path to name: a temp file of fsbench's writers stands for the file it was writing."""
    if not filename:
        return "?"
    from fsbench.atomic import target_of

    path = Path(os.fsdecode(filename))
    target = target_of(path.name)
    return str(path.with_name(target)) if target else str(path)


_DISK_FULL = "disk full at {path}: free space or set FSBENCH_HOME to a larger disk"
#: errno → the one line (with the path) for the OS errors users cause or meet
OS_ERRORS = {
    errno.ENOSPC: _DISK_FULL, errno.EDQUOT: _DISK_FULL, errno.EFBIG: _DISK_FULL,
    errno.EROFS: "{path} is on a read-only file system; write somewhere else",
    errno.EACCES: "permission denied: {path}; choose another path or fix its permissions",
    errno.EPERM: "permission denied: {path}; choose another path or fix its permissions",
    errno.EISDIR: "{path} is a folder, not a file; give a file path",
    errno.EEXIST: "{path} already exists and is in the way; move it or choose another path",
    errno.ENOTDIR: "{path}: a part of this path is a file, not a folder; choose another path",
    errno.ENOENT: "no such file or folder: {path}",
    errno.ENAMETOOLONG: "path too long: {path:.120}…; choose a shorter path",
    errno.EMFILE: "too many open files; raise the limit with `ulimit -n`",
    errno.ELOOP: "{path} is a symlink loop; give a real file or folder",
}


def os_error(exc: OSError) -> str:
    """One line naming the path and the fix for the OS errors users cause or meet."""
    path = _target(exc.filename)
    if exc.errno in OS_ERRORS:
        return OS_ERRORS[exc.errno].format(path=path)
    return f"{exc.strerror or type(exc).__name__} at {path}"


def blame(tb: TracebackType | None) -> tuple[str, str] | None:
    """(module, distribution) of the innermost traceback frame in a non-fsbench plugin package."""
    tops = _plugin_packages()
    found = None
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        top = module.split(".", 1)[0]
        if top in tops:
            found = (module, tops[top])
        tb = tb.tb_next
    return found


def _plugin_packages() -> dict[str, str]:
    """Top-level package → distribution, from the entry points of every non-fsbench plugin."""
    from fsbench import registry

    out = {}
    for kind in registry.GROUPS:
        try:
            found = registry.plugins(kind)
        except Exception:  # discovery itself broken: blame nobody rather than fail here
            continue
        for p in found:
            if p.distribution != "fsbench":
                out.setdefault(p.value.split(":", 1)[0].split(".", 1)[0], p.distribution)
    return out
