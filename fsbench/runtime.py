"""Process-level CPU settings that every trainer, evaluator and benchmark shares.

On small shared CPUs three things dominate wall time more than any model choice: glibc's
allocator returning large activations to the OS (page faults, 2–3× slower training), denormal
floats in barely trained nets (~100× slower arithmetic), and OpenMP threads spinning against
each other when cores are oversubscribed (one thread can beat two by 3–7×).
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


def tune_process() -> None:
    """Keep freed memory mapped (mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=1e11) and flush denormals.

    Called by what trains or evaluates (the runner, refits, bench scripts), not by the CLI group:
    torch is imported here, and `fsbench list` or `--help` must answer without it.
    """
    import torch

    torch.set_flush_denormal(True)
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
    """Temporarily pin torch's intra-op threads (0 leaves torch's setting alone)."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
