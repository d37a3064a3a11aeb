"""Wall time of one many-cell sweep with `--backend local` against `--backend ray`, in one run.

    python bench/sweep_speedup.py [--quick] [--trainings]

Eight cells (pixels on Massey leave-signer-out, S = 1 and 4, seeds 0–7, 1 CPU each) are run as
`fsbench sweep` subprocesses, local first, then Ray (which starts its own 127.0.0.1 cluster inside
the timed command), then local again; the baseline is the mean of the two local runs, so a change
in machine load during the bench shows as a gap between them. `parallel` is cell-seconds per
sweep-second: how many cells ran at once (≈ 1 local, ≤ 2 on this machine's Ray), and each row
records the 1-minute load average before it, since a busy machine has no idle core to give. A warm-up run prepares the dataset
and its decoded-pixel cache first, so no timed run pays for them. The bench also checks that
both backends wrote identical metrics for every cell.

`--trainings`: cells of minutes instead — four protonets trained from scratch on Omniglot (seeds
0–3, 200 training episodes each, then 20-way S=1 episodes), each run in a fresh copy of the
warmed-up FSBENCH_HOME so no run loads another's trained model; and a third variant, local with
`--cpus 2` (one cell at a time on both cores' threads), which is what a user without Ray would do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()


def sweep(args: list[str], out: Path, home: Path | None = None) -> dict[str, float]:
    """Command wall time, and how many cells ran at once on average (cell-seconds / sweep seconds).
    `home`: a fresh copy of it is the run's FSBENCH_HOME (datasets and pixel caches, no models)."""
    fsbench = str(Path(sys.executable).with_name("fsbench"))
    env = dict(os.environ)
    if home is not None:
        env["FSBENCH_HOME"] = str(out.with_name(out.name + "-home"))
        shutil.copytree(home, env["FSBENCH_HOME"])
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run([fsbench, "sweep", *args, "--out", str(out)], check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    summary = json.loads((out / "sweep.json").read_text())
    cell_s = sum(c["wall_s"] for c in summary["cells"])
    return {"wall_s": round(wall, 1), "sweep_s": round(summary["wall_s"], 1), "cell_s": round(cell_s, 1),
            "parallel": round(cell_s / summary["wall_s"], 2), "load_1m_before": round(load, 1)}


def metrics(out: Path) -> dict[str, object]:
    return {p.name: json.loads(p.read_text())["metrics"] for p in sorted(out.glob("*__seed*.json"))}


def main() -> None:
    quick = common.quick_flag()
    trainings = "--trainings" in sys.argv
    if trainings:
        seeds = 2 if quick else 4
        grid = ["--method", "protonet", "--dataset", "omniglot", "--split", "unseen-class", "--shots", "1",
                "--ways", "20", "--episodes", "5" if quick else "20", "--set", f"episodes={60 if quick else 200}"]
    else:
        seeds = 4 if quick else 8
        grid = ["--method", "pixels", "--dataset", "massey", "--split", "leave-signer-out", "--shots", "1,4",
                "--episodes", "20" if quick else "100"]
    with tempfile.TemporaryDirectory(prefix="fsbench-sweep-bench-") as tmp:
        tmp = Path(tmp)
        warm_home = tmp / "warm-home"
        if trainings:  # the warm-up's own home: datasets prepared, pixels cached, then copied per run
            os.environ["FSBENCH_HOME"] = str(warm_home)
        sweep([*grid, "--cpus", "1", "--seeds", "99", "--episodes", "1"], tmp / "warm-up")
        home = warm_home if trainings else None
        cells = [*grid, "--seeds", ",".join(map(str, range(seeds)))]
        runs = [("local (before)", sweep([*cells, "--cpus", "1", "--backend", "local"], tmp / "local1", home)),
                ("ray, 2 CPUs (start included)", sweep([*cells, "--cpus", "1", "--backend", "ray"], tmp / "ray", home)),
                ("local (after)", sweep([*cells, "--cpus", "1", "--backend", "local"], tmp / "local2", home))]
        same = metrics(tmp / "local1") == metrics(tmp / "ray") == metrics(tmp / "local2")
        if trainings:
            runs.append(("local, --cpus 2", sweep([*cells, "--cpus", "2", "--backend", "local"], tmp / "local-2cpu", home)))
    base = (runs[0][1]["wall_s"] + runs[2][1]["wall_s"]) / 2
    rows = [{"backend": name, "cells": seeds, **r, "speed_up": round(base / r["wall_s"], 2)} for name, r in runs]
    common.show("fsbench sweep: local vs ray (speed-up over the mean local run)", rows,
                ["backend", "cells", "wall_s", "sweep_s", "cell_s", "parallel", "load_1m_before", "speed_up"])
    print(f"identical metrics across backends (1 CPU per cell): {same}")
    name = "sweep_speedup_trainings" if trainings else "sweep_speedup"
    path = common.write(name, rows, {"identical_metrics": same, "command": " ".join(cells)})
    print(f"wrote {path}")
    if not same:
        sys.exit("the backends disagree")


if __name__ == "__main__":
    main()
