"""How long a newcomer waits for `fsbench demo`, cold, and what each method costs inside it.

Cold means a fresh FSBENCH_HOME: the embedded Omniglot is prepared and every model trained, as
right after `.ci/setup` (imports are warm in the page cache; nothing else is). The demo runs as
one whole process; per-method seconds come from the results files it writes.

    python bench/demo_time.py                           # the demo as shipped
    python bench/demo_time.py --methods pixels,hand2vec # a subset
    python bench/demo_time.py --hand2vec "2:0,3:0,4:1500"  # hand2vec budgets (epochs:images), cold each

The budget mode runs `fsbench run --method hand2vec` on the demo's protocol (Omniglot 20-way
unseen-class, S=1,5, 20 episodes) once per budget, each with an empty model cache, and reports
accuracy beside wall time: the numbers a demo budget is chosen from.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, show, write  # noqa: E402

FSBENCH = [sys.executable, "-c", "from fsbench.cli import main; main()"]
TARGET_S = 180.0
CPU_S: list[float] = []


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(wall s, peak RSS MB of that process, stdout) of one whole process; its CPU seconds (its
    workers included) go to CPU_S, the number that still means something on a loaded machine."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0), err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(argv[3:])} failed: {err.read()[-800:]}")
        CPU_S.append(usage.ru_utime + usage.ru_stime)
        return wall, usage.ru_maxrss / 1024, out.read()


def cold_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, FSBENCH_HOME=str(home), FSBENCH_QUIET="1")
    env.pop("OMP_NUM_THREADS", None)  # the demo decides its own threads, as for a user
    return env


def demo(methods: str | None) -> list[dict]:
    home = Path(tempfile.mkdtemp(prefix="fsbench-demo-home-"))
    work = Path(tempfile.mkdtemp(prefix="fsbench-demo-cwd-"))
    try:
        argv = [*FSBENCH, "demo", *(["--methods", methods] if methods else [])]
        wall, rss, out = timed(argv, cold_env(home), work)
        rows = []
        for path in sorted((work / "runs" / "demo").glob("*.json")):
            res = json.loads(path.read_text())
            if "metrics" not in res:
                continue
            rows.append({
                "run": res["method"]["name"], "wall_s": res["timings"]["total_s"],
                "fit_s": res["timings"].get("fit_s"),
                "top1_S1": res["metrics"]["S=1"]["top1"]["mean"], "top1_S5": res["metrics"]["S=5"]["top1"]["mean"],
            })
        rows.append({"run": "whole demo (one process, cold)", "wall_s": round(wall, 1), "cpu_s": round(CPU_S[-1], 1),
                     "peak_rss_mb": round(rss, 1), "meets_180s": wall <= TARGET_S})
        print(out[-3000:])
        return rows
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def hand2vec_budgets(spec: str, threads: int) -> list[dict]:
    rows = []
    prepared = Path(tempfile.mkdtemp(prefix="fsbench-demo-data-"))
    try:
        for item in spec.split(","):
            epochs, images = (int(x) for x in item.split(":"))
            home = Path(tempfile.mkdtemp(prefix="fsbench-h2v-home-"))
            if (prepared / "datasets").exists():  # the data is prepared once; the models are cold
                (home / "datasets").symlink_to(prepared / "datasets")
            out = home / "r.json"
            argv = [*FSBENCH, "run", "-m", "hand2vec", "-d", "omniglot", "-s", "unseen-class", "--shots", "1,5",
                    "--ways", "20", "--episodes", "20", "--set", f"backbone.epochs={epochs}",
                    "--set", f"backbone.max_images={images}", "--set", f"threads={threads}", "--out", str(out)]
            wall, rss, _ = timed(argv, cold_env(home), ROOT)
            if not (prepared / "datasets").exists():
                shutil.move(str(home / "datasets"), str(prepared / "datasets"))
            res = json.loads(out.read_text())
            rows.append({"run": f"hand2vec epochs={epochs} images={images or 'all'} threads={threads or 'default'}",
                         "wall_s": round(wall, 1), "cpu_s": round(CPU_S[-1], 1), "fit_s": res["timings"].get("fit_s"),
                         "peak_rss_mb": round(rss, 1),
                         "top1_S1": res["metrics"]["S=1"]["top1"]["mean"], "top1_S5": res["metrics"]["S=5"]["top1"]["mean"]})
            print(rows[-1], flush=True)
            shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(prepared, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", help="comma-separated demo methods (default: the demo's own list)")
    ap.add_argument("--hand2vec", metavar="EPOCHS:IMAGES,...", help="time hand2vec budgets instead of the demo")
    ap.add_argument("--threads", type=int, default=0, help="hand2vec's threads config in budget mode")
    args = ap.parse_args()
    print(machine())
    if args.hand2vec:
        rows, name = hand2vec_budgets(args.hand2vec, args.threads), "demo_time_hand2vec"
    else:
        rows, name = demo(args.methods), "demo_time"
    show(name, rows, ["run", "wall_s", "cpu_s", "fit_s", "peak_rss_mb", "top1_S1", "top1_S5", "meets_180s"])
    print(f"wrote {write(name, rows)}")


if __name__ == "__main__":
    main()
