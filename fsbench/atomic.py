"""The one way fsbench writes a file, and the temporaries it owns on the way.

A file is written into a temp file beside it, fsynced, then renamed over it: a reader (or a
second process) sees the old file or the new one, never a torn one, and a failed or interrupted
write leaves no temp file behind. Files get the usual 0644-style mode from the umask. The target
must be a regular file or absent (`fsbench.names.regular_target`), checked before the temp file
is made and again just before the rename.

Temporaries (these files, a prepare's folder, a pixel cache being decoded) are `owned_temp`s:
named `.TARGET.fsbench-tmp-TOKEN` (16 random hex digits) beside an owner file
`.TARGET.fsbench-tmp-TOKEN.owner` that records host, boot id, PID namespace, PID and start time
and is `flock`ed by its process for the temp's whole life. `remove_stale` deletes a temp only
through its owner file, and only when nobody holds its lock and the owner is provably gone: the
same machine (host, boot, PID namespace) with a dead PID, or a record older than a day. A name
alone never condemns a file, so a user's `.thesis.old-2019` folder is never touched, and
another container's in-flight temp in a shared FSBENCH_HOME (its PID means nothing here) keeps
its lock and survives.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from fsbench.names import regular_target

#: a temp of fsbench's (file or folder), and its owner file
TEMP = re.compile(r"^\.(?P<target>.+)\.fsbench-tmp-(?P<token>[0-9a-f]{16})(?P<owner>\.owner)?$")
#: an owner record older than this is abandoned even when its machine cannot be checked (another host)
ORPHAN_AGE_S = 24 * 3600.0


@contextmanager
def atomic_path(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path` for writing; on success it replaces `path` atomically."""
    path = regular_target(path, "output")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent)
    try:
        with owned_temp(path) as tmp:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # the umask applies
            with os.fdopen(fd, mode) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            regular_target(path, "output")  # nothing was swapped in meanwhile
            os.replace(tmp, path)
    except OSError as exc:
        if exc.errno is not None and exc.filename is None:
            exc.filename = str(path)  # a failed write() names no file: name the one being written
        raise


def write_many(files: dict[Path, str | bytes]) -> None:
    """Several files as one step (a board and its sweep file): every temp file is written and
    fsynced before the first rename, so a full disk or a bad target changes none of them."""
    with ExitStack() as stack:
        staged = []
        for path, data in files.items():
            path = regular_target(path, "output")
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale(path.parent)
            tmp = stack.enter_context(owned_temp(path))
            try:
                with open(tmp, "xb") as fh:  # mode 0666 less the umask
                    fh.write(data.encode() if isinstance(data, str) else data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                if exc.errno is not None and exc.filename is None:
                    exc.filename = str(path)  # a failed write() names no file: name the one being written
                raise
            staged.append((tmp, path))
        for tmp, path in staged:
            regular_target(path, "output")
        for tmp, path in staged:
            os.replace(tmp, path)


def write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_path(path, "wb") as fh:
        fh.write(data)


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path, "w") as fh:
        fh.write(text)


def write_with(path: Path | str, save: Callable[[IO], None]) -> None:
    """`save(file_object)` into a temp file, then rename: for torch.save, np.save and friends."""
    with atomic_path(path, "wb") as fh:
        save(fh)


def machine() -> dict[str, str]:
    """Where a PID means something: host name, boot id and PID namespace."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_ns = ""
    return {"host": socket.gethostname(), "boot_id": boot, "pid_ns": pid_ns}


@contextmanager
def owned_temp(target: Path | str) -> Iterator[Path]:
    """A fresh temp path beside `target` (the caller creates the file or folder there), owned by
    this process through a locked owner file; on exit whatever is left at it is removed."""
    target = Path(target)
    base = target.with_name(f".{target.name}.fsbench-tmp-{secrets.token_hex(8)}")
    owner = base.with_name(base.name + ".owner")
    fd = os.open(owner, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks only while a remove_stale peeks at the empty record
        record = {"fsbench_temp": 1, **machine(), "pid": os.getpid(), "created": time.time()}
        os.write(fd, json.dumps(record).encode())
        try:
            yield base
        finally:
            _remove(base)
    finally:
        owner.unlink(missing_ok=True)
        os.close(fd)  # releases the lock


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def abandoned(owner: Path, now: float | None = None) -> bool:
    """True when the temp `owner` vouches for is provably left behind by a process that is gone.

    Nobody may hold the owner's lock (a live owner does, in any PID namespace of this kernel),
    and then either the record is from this machine (host, boot, PID namespace) and its PID is
    dead, or it is older than ORPHAN_AGE_S (another host, whose PIDs cannot be checked from here).
    """
    try:
        fd = os.open(owner, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its process is alive
        except OSError:
            pass  # no locks on this file system: the record alone decides
        record = _record(os.read(fd, 4096))
    finally:
        os.close(fd)
    if record is None:
        return False  # not a record of ours, or one being written: never guessed
    age = (time.time() if now is None else now) - record["created"]
    here = all(record[k] == v for k, v in machine().items())
    return age > ORPHAN_AGE_S or (here and not pid_alive(record["pid"]))


def _record(blob: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(blob)
    except ValueError:
        return None
    types = {"host": str, "boot_id": str, "pid_ns": str, "pid": int, "created": (int, float)}
    if not isinstance(record, dict) or record.get("fsbench_temp") != 1:
        return None
    if not all(isinstance(record.get(k), t) and not isinstance(record.get(k), bool) for k, t in types.items()):
        return None
    return record


def remove_stale(folder: Path | str) -> list[Path]:
    """Delete the temps in `folder` whose owners are gone (a SIGKILL or power cut skips every
    cleanup handler; the next write into the same folder removes what was left); return them."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = TEMP.match(name)
        if m is None or not m["owner"]:
            continue
        owner = Path(folder) / name
        if abandoned(owner):
            temp = owner.with_name(name.removesuffix(".owner"))
            _remove(temp)
            owner.unlink(missing_ok=True)
            removed.append(temp)
    return removed


def target_of(name: str) -> str | None:
    """The file a temp name of fsbench's stands for (for error messages), else None."""
    m = TEMP.match(name)
    return m["target"] if m else None
