"""Process-level CPU settings that every trainer, evaluator and benchmark shares.

On small shared CPUs three things dominate wall time more than any model choice: glibc's
allocator returning large activations to the OS (page faults, 2–3× slower training), denormal
floats in barely trained nets (~100× slower arithmetic), and OpenMP threads spinning against
each other when cores are oversubscribed (one thread can beat two by 3–7×; a training beside two
busy processes on two cores ran > 20× slower than alone).

This module is the one place that decides torch's thread count (`decide_threads`): the cores
this process may really use (`usable_cores`: the affinity mask and the cgroup CPU quota, not
`os.cpu_count()`), divided among the processes or sweep cells running at once; and it asks
OpenMP to sleep, not spin, while it waits (`OMP_WAIT_POLICY=PASSIVE`, `prepare_environment`,
which must run before torch loads: the CLI entry and every worker start do it). Results are
identical for a given thread count, not across counts (docs/performance.md); the manifest
records what was decided (`thread_record`).

Environment: `FSBENCH_THREADS=N` fixes the count; `FSBENCH_THREAD_POLICY=legacy` restores the
policy before issue 28 (torch's own count from `os.cpu_count()`, OpenMP's spinning waits), which
`bench/load.py` measures against.
"""

from __future__ import annotations

import ctypes
import gc
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from fsbench.errors import FsbenchError

THREADS_ENV = "FSBENCH_THREADS"
POLICY_ENV = "FSBENCH_THREAD_POLICY"
WAIT_ENV = "OMP_WAIT_POLICY"
CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
#: torch_threads contexts open now: while one is, `tune_process` leaves the count alone
_pins: list[int] = []
#: whether OMP_WAIT_POLICY was already in os.environ when torch loaded (None: not known yet)
_wait_in_effect: list[bool] = []


class ThreadsError(FsbenchError):
    """FSBENCH_THREADS or FSBENCH_THREAD_POLICY holds something else than the documented values."""


def legacy() -> bool:
    """True under FSBENCH_THREAD_POLICY=legacy (the thread policy before issue 28, for bench/load.py)."""
    policy = os.environ.get(POLICY_ENV, "").strip().lower()
    if policy not in ("", "fair", "legacy"):
        raise ThreadsError(f"{POLICY_ENV}={policy!r}: use fair (the default) or legacy")
    return policy == "legacy"


def prepare_environment() -> None:
    """Ask OpenMP to sleep while it waits (OMP_WAIT_POLICY=PASSIVE) unless the user chose a policy.

    OpenMP reads it once, when torch loads its runtime; so the CLI entry calls this before any
    command imports torch, and a process that starts workers calls it before starting them (they
    inherit the environment). Called after torch loaded, it still reaches later workers, and
    `thread_record` says the policy is not in effect in this process.
    """
    if not _wait_in_effect:
        _wait_in_effect.append("torch" not in sys.modules or WAIT_ENV in os.environ)
    if not legacy():
        os.environ.setdefault(WAIT_ENV, "PASSIVE")


def worker_environment() -> dict[str, str]:
    """Variables a worker process on another node must start with (Ray's runtime_env)."""
    prepare_environment()
    return {k: os.environ[k] for k in (WAIT_ENV, THREADS_ENV, POLICY_ENV) if k in os.environ}


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> float | None:
    """CPUs the cgroup quota allows this process (quota / period), None when unlimited or unknown.

    cgroup v2: `cpu.max` ("max 100000" or "200000 100000"); v1: `cpu.cfs_quota_us` (-1: none) and
    `cpu.cfs_period_us` in the cpu controller's folder. The process's own cgroup and every parent
    up to the mount count (a parent's quota binds its children); in a container whose mount shows
    only its own subtree, the mount's top folder is the process's cgroup.
    """
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    limits = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "":  # v2: the unified hierarchy, mounted at the root
            mounts, read = [root], _v2_limit
        elif "cpu" in controllers.split(","):  # v1's cpu controller (cpu, or cpu,cpuacct)
            mounts, read = [root / controllers, root / "cpu", root / "cpu,cpuacct"], _v1_limit
        else:
            continue
        mount = next((m for m in mounts if m.is_dir()), None)
        for folder in _up_to(mount, path) if mount is not None else []:
            if (limit := read(folder)) is not None:
                limits.append(limit)
    return min(limits) if limits else None


def _up_to(mount: Path, path: str) -> list[Path]:
    """The cgroup's folder under `mount` and its parents up to `mount` (just `mount` if not there)."""
    own = mount / path.strip("/")
    if not path.strip("/") or not own.is_dir():
        return [mount]
    return [own, *[p for p in own.parents if p == mount or mount in p.parents]]


def _v2_limit(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_limit(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def usable_cores(affinity: set[int] | None = None, quota: float | None = None, detect: bool = True) -> int:
    """Cores this process may run on: the affinity mask's CPUs, capped by the cgroup quota rounded
    up (a quota of 1.5 CPUs is two threads, each throttled to its share), at least one.

    `affinity` and `quota` are detected unless given (tests give them; `detect=False` ignores a
    quota that is not given)."""
    if affinity is None:
        try:
            affinity = os.sched_getaffinity(0)
        except (AttributeError, OSError):  # not Linux
            affinity = set(range(os.cpu_count() or 1))
    if quota is None and detect:
        quota = cgroup_cpu_limit()
    cores = len(affinity) or 1
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota - 1e-9)))
    return max(1, cores)


@cache
def _usable() -> int:
    return usable_cores()


def decide_threads(running: int = 1, cpus: int | None = None, cores: int | None = None) -> int:
    """Torch intra-op threads for one process: the decision every caller takes from here.

    `running`: processes sharing this machine's usable cores at once (`fsbench demo`'s workers);
    `cpus`: what a sweep cell declares (the backend has already divided the cores among cells —
    Ray schedules by it), capped at the usable cores. FSBENCH_THREADS fixes the count; under the
    legacy policy, `os.cpu_count()` is divided as before issue 28.
    """
    fixed = os.environ.get(THREADS_ENV, "").strip()
    if fixed:
        if not fixed.isdigit() or int(fixed) < 1:
            raise ThreadsError(f"{THREADS_ENV}={fixed!r} must be a whole number of threads ≥ 1")
        return int(fixed)
    if legacy():
        return cpus or max(1, (os.cpu_count() or 1) // max(1, running))
    cores = cores or _usable()
    if cpus:
        return max(1, min(cpus, cores))
    return max(1, cores // max(1, running))


def thread_record() -> dict[str, Any]:
    """What a results file's `hardware` records about threads: the count torch runs with now, the
    cores this process may use, and the OpenMP wait policy in effect."""
    import torch

    wait = os.environ.get(WAIT_ENV)
    in_effect = _wait_in_effect[0] if _wait_in_effect else True
    return {
        "threads": torch.get_num_threads(),
        "usable_cores": _usable(),
        "cpu_count": os.cpu_count(),
        "thread_policy": "fixed" if os.environ.get(THREADS_ENV, "").strip() else ("legacy" if legacy() else "fair"),
        "wait_policy": (wait or "default") + ("" if in_effect else " (set after torch loaded: not in effect)"),
    }


def tune_process() -> None:
    """Keep freed memory mapped (mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=1e11), flush denormals,
    and give torch the thread count `decide_threads` decides (unless a `torch_threads` context
    pins one: a sweep cell's, a demo worker's).

    Called by what trains or evaluates (the runner, refits, bench scripts), not by the CLI group:
    torch is imported here, and `fsbench list` or `--help` must answer without it.
    """
    prepare_environment()
    import torch

    torch.set_flush_denormal(True)
    if not _pins and not legacy():
        torch.set_num_threads(decide_threads())
    if os.environ.get("FSBENCH_ALLOCATOR") == "glibc":  # glibc's defaults: bench/memory.py compares
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-4, 0)  # M_MMAP_MAX
        libc.mallopt(-1, 100_000_000_000)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Hand the pages of freed memory back to the OS (gc, then glibc's malloc_trim(0)).

    With trimming off (`tune_process`), memory freed after one fold's training stays resident, and
    the next fold's differently sized allocations land beside it, not in it: peak RSS then grows
    fold by fold. malloc_trim(0) releases every whole free page, holes inside the heap included,
    in milliseconds, so calling it between folds keeps the speed-up within a fold and bounds the
    peak to one fold's live memory (bench/memory.py).
    """
    gc.collect()
    if os.environ.get("FSBENCH_ALLOCATOR") == "glibc":
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Temporarily pin torch's intra-op threads (0 leaves the process's setting alone)."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
        _pins.append(int(n))
    try:
        yield
    finally:
        if n:
            _pins.pop()
        torch.set_num_threads(before)
