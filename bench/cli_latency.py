"""Whole-process wall time and peak RSS of the CLI commands that must answer at once.

Each command runs as a fresh process, as a user types it; `os.wait4` gives that one child's peak
RSS. The baseline is `python -c "import torch"`, measured side by side: before the CLI imported
lazily, every command paid at least that (the group tuned torch before any command ran), so the
ratio to it is what laziness bought on this machine at this load.

    python bench/cli_latency.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, quick_flag, show, write  # noqa: E402

FSBENCH = [sys.executable, "-c", "from fsbench.cli import main; main()"]
COMMANDS: dict[str, list[str]] = {
    "baseline: python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "fsbench --help": [*FSBENCH, "--help"],
    "fsbench list": [*FSBENCH, "list"],
    "fsbench info massey": [*FSBENCH, "info", "massey"],
    "fsbench leaderboard": [*FSBENCH, "leaderboard"],
    "fsbench leaderboard massey-224__leave-signer-out": [*FSBENCH, "leaderboard", "massey-224__leave-signer-out"],
    # a method describes itself by importing its plugin (torch): not one of the ≤ 1 s commands
    "fsbench info pixels (imports torch)": [*FSBENCH, "info", "pixels"],
}
LIMIT_S, LIMIT_MB = 1.0, 150.0


def measure(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB, CPU seconds) of one fresh process. CPU seconds are what a
    single-threaded command's wall time is on an idle machine; on a loaded one, wall time is not."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv[3:]) or argv} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    os.environ.setdefault("FSBENCH_QUIET", "1")
    repeats = 3 if quick_flag() else 7
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):  # interleaved, so a load spike hits every command alike
        for name, argv in COMMANDS.items():
            samples[name].append(measure(argv))
    base = statistics.median(w for w, _, _ in samples[next(iter(COMMANDS))])
    rows = []
    for name, runs in samples.items():
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, _, c in runs)
        rss = max(r for _, r, _ in runs)
        fast = not name.startswith("baseline") and "imports torch" not in name
        rows.append({
            "command": name, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_rss_mb": round(rss, 1),
            "vs_import_torch": round(base / wall, 1),
            "meets_1s_150mb": (min(wall, cpu) <= LIMIT_S and rss <= LIMIT_MB) if fast else None,
        })
    show(f"CLI whole-process latency (median of {repeats}, peak RSS max)", rows,
         ["command", "wall_s", "cpu_s", "peak_rss_mb", "vs_import_torch", "meets_1s_150mb"])
    print(f"wrote {write('cli_latency', rows, {'repeats': repeats, 'loadavg_after': os.getloadavg()})}")


if __name__ == "__main__":
    main()
