"""Shared set-up for the bench scripts: allocator, threads, timing, peak RSS, table + JSON.

Every script measures its baseline in the same process as the variants and reports ratios,
because absolute numbers on a shared 2-core machine move with the load; the ratios do not
(much). The allocator settings match the CLI's: glibc's mmap-per-allocation page faults
would otherwise dominate large activations.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
THREADS = 2


def setup(threads: int = THREADS) -> None:
    """Allocator + thread settings every bench runs under (set before heavy imports)."""
    os.environ.setdefault("MALLOC_MMAP_MAX_", "0")
    os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", "100000000000")
    os.environ.setdefault("FSBENCH_QUIET", "1")
    os.environ.setdefault("FSBENCH_DATA", str(ROOT.parent / "shared" / "data"))
    os.environ.setdefault("FSBENCH_HOME", "/tmp/fsbench-bench-home")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from fsbench.runtime import prepare_environment, tune_process

    prepare_environment()  # OMP_WAIT_POLICY, before torch loads OpenMP
    import torch

    tune_process()

    torch.set_num_threads(threads)


def peak_rss_mb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def machine() -> dict[str, Any]:
    """What the numbers were measured on, including how busy it was."""
    load = os.getloadavg()
    return {
        "platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "threads": THREADS, "loadavg_1_5_15": [round(x, 2) for x in load],
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def timeit(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1, min_time: float = 0.0) -> float:
    """Median seconds of `fn()` over `repeats` runs (after `warmup`); median resists load spikes."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write(name: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {"bench": name, "machine": machine(), "peak_rss_mb": peak_rss_mb(), **(extra or {}), "rows": rows}
    path.write_text(json.dumps(doc, indent=1, default=str))
    return path


def show(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="left" if c in ("variant", "step", "path", "run") else "right")
    for r in rows:
        table.add_row(*(_fmt(r.get(c)) for c in columns))
    Console(width=200).print(table)


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def quick_flag() -> bool:
    return "--quick" in sys.argv
