"""Wall time of one many-cell sweep with `--backend local` against `--backend ray`, in one run.

    python bench/sweep_speedup.py [--quick]

Eight cells (pixels on Massey leave-signer-out, S = 1 and 4, seeds 0–7, 1 CPU each) are run as
`fsbench sweep` subprocesses, local first, then Ray (which starts its own 127.0.0.1 cluster inside
the timed command), then local again; the baseline is the mean of the two local runs, so a change
in machine load during the bench shows as a gap between them. `parallel` is cell-seconds per
sweep-second: how many cells ran at once (≈ 1 local, ≤ 2 on this machine's Ray), and each row
records the 1-minute load average before it, since a busy machine has no idle core to give. A warm-up run prepares the dataset
and its decoded-pixel cache first, so no timed run pays for them. The bench also checks that
both backends wrote identical metrics for every cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()


def sweep(args: list[str], out: Path) -> dict[str, float]:
    """Command wall time, and how many cells ran at once on average (cell-seconds / sweep seconds)."""
    fsbench = str(Path(sys.executable).with_name("fsbench"))
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run([fsbench, "sweep", *args, "--out", str(out)], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    summary = json.loads((out / "sweep.json").read_text())
    cell_s = sum(c["wall_s"] for c in summary["cells"])
    return {"wall_s": round(wall, 1), "sweep_s": round(summary["wall_s"], 1), "cell_s": round(cell_s, 1),
            "parallel": round(cell_s / summary["wall_s"], 2), "load_1m_before": round(load, 1)}


def metrics(out: Path) -> dict[str, object]:
    return {p.name: json.loads(p.read_text())["metrics"] for p in sorted(out.glob("*__seed*.json"))}


def main() -> None:
    quick = common.quick_flag()
    seeds = 4 if quick else 8
    grid = ["--method", "pixels", "--dataset", "massey", "--split", "leave-signer-out", "--shots", "1,4",
            "--episodes", "20" if quick else "100", "--cpus", "1"]
    with tempfile.TemporaryDirectory(prefix="fsbench-sweep-bench-") as tmp:
        tmp = Path(tmp)
        sweep([*grid, "--seeds", "99", "--episodes", "1"], tmp / "warm-up")
        cells = [*grid, "--seeds", ",".join(map(str, range(seeds)))]
        local1 = sweep([*cells, "--backend", "local"], tmp / "local1")
        ray = sweep([*cells, "--backend", "ray"], tmp / "ray")
        local2 = sweep([*cells, "--backend", "local"], tmp / "local2")
        same = metrics(tmp / "local1") == metrics(tmp / "ray") == metrics(tmp / "local2")
    base = (local1["wall_s"] + local2["wall_s"]) / 2
    rows = [{"backend": name, "cells": seeds, **r, "speed_up": round(base / r["wall_s"], 2)}
            for name, r in (("local (before)", local1), ("ray, 2 CPUs (start included)", ray), ("local (after)", local2))]
    common.show("fsbench sweep: local vs ray (speed-up over the mean local run)", rows,
                ["backend", "cells", "wall_s", "sweep_s", "cell_s", "parallel", "load_1m_before", "speed_up"])
    print(f"identical metrics across backends: {same}")
    path = common.write("sweep_speedup", rows, {"identical_metrics": same, "command": " ".join(cells)})
    print(f"wrote {path}")
    if not same:
        sys.exit("the backends disagree")


if __name__ == "__main__":
    main()
