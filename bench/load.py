"""A training run alone and beside CPU-bound competitors, under the thread policy before issue 28 and after.

    python bench/load.py [--quick] [--competitors 0,1,2] [--limit-x 25] [--repeats 1]

The training is one whole `fsbench run` (protonet trained from scratch on Omniglot, 20-way S=1;
each run under its own seed, so no run loads another's trained model), run as a subprocess with
`FSBENCH_THREAD_POLICY=legacy` (before: torch's own thread count from os.cpu_count(), OpenMP's
spinning waits) and with today's default (`fair`: threads from the usable cores, OMP_WAIT_POLICY=
PASSIVE, fsbench/runtime.py). A competitor is a `python -c "while True: pass"` process, one core's
worth of CPU-bound work, started before the run and ended after it. Runs are interleaved (quiet
before, quiet after, one competitor before, after, …) so a change in the machine's own load hits
both policies alike. The number that matters is the loaded / quiet wall-time ratio of each policy:
beside two competitors on two cores a fair share is 3× (the run gets 2/3 of a core instead of 2);
the target is ≤ 4×. A run that exceeds `--limit-x` × its policy's quiet time is stopped and
reported as "> limit" (bounded: the legacy policy beside two competitors ran > 20×).
Each row also reports the training alone (the results file's fit_s) and the CPU seconds the run
used (spinning threads burn CPU without progress).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

POLICIES = {"before": "legacy", "after": "fair"}
#: policy variables the parent may carry and that must come only from the row's policy
CLEARED = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "FSBENCH_THREADS", "FSBENCH_THREAD_POLICY", "GOMP_SPINCOUNT")


def command(out: Path, seed: int, quick: bool) -> list[str]:
    """One small training and its evaluation: protonet from scratch, a few training episodes."""
    fsbench = str(Path(sys.executable).with_name("fsbench"))
    return [fsbench, "run", "--method", "protonet", "--dataset", "omniglot", "--split", "unseen-class",
            "--ways", "20", "--shots", "1", "--episodes", "2", "--set", f"episodes={10 if quick else 20}",
            "--seed", str(seed), "--out", str(out)]


def environment(policy: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env["FSBENCH_THREAD_POLICY"] = policy
    env["FSBENCH_QUIET"] = "1"
    return env


def timed(cmd: list[str], env: dict[str, str], limit: float | None) -> dict[str, float | bool]:
    """Wall and CPU seconds of `cmd` (its whole process tree's CPU, from wait4); stopped after `limit`."""
    log = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    deadline = None if limit is None else t0 + limit
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and only its own children
            pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return {"wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                    "stopped": True}
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        log.seek(0)
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {log.read().decode()[-2000:]}")
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "stopped": False}


def competitors(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(n)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
        p.wait()


def main() -> None:
    quick = common.quick_flag()
    args = sys.argv[1:]
    loads = [int(x) for x in _opt(args, "--competitors", "0,1,2").split(",")]
    limit_x = float(_opt(args, "--limit-x", "10" if quick else "25"))
    repeats = int(_opt(args, "--repeats", "1"))
    os.environ.setdefault("FSBENCH_DATA", str(common.ROOT.parent / "shared" / "data"))
    os.environ.setdefault("FSBENCH_HOME", "/tmp/fsbench-bench-home")
    with tempfile.TemporaryDirectory(prefix="fsbench-load-") as tmp:
        tmp = Path(tmp)
        # prepares Omniglot and its pixel cache once, outside the timed runs
        timed(command(tmp / "warm.json", 9999, True), environment("fair"), None)
        seed = 10_000 + int(time.time()) % 100_000  # fresh seeds: nothing trained is in the cache
        times: dict[tuple[str, int], list[dict]] = {}
        for n in sorted(set(loads) | {0}):
            for _ in range(repeats):
                for name, policy in POLICIES.items():
                    quiet = times.get((name, 0))
                    limit = None if n == 0 or not quiet else limit_x * statistics.median(r["wall_s"] for r in quiet)
                    seed += 1
                    out = tmp / f"{name}-{n}-{seed}.json"
                    load = round(os.getloadavg()[0], 1)
                    rivals = competitors(n)
                    try:
                        row = timed(command(out, seed, quick), environment(policy), limit)
                    finally:
                        stop(rivals)
                    doc = json.loads(out.read_text()) if out.exists() else None
                    row |= {"fit_s": doc["timings"]["fit_s"] if doc else None, "load_before": load,
                            "threads": doc["hardware"]["threads"] if doc else None,
                            "wait_policy": doc["hardware"].get("wait_policy") if doc else None}
                    times.setdefault((name, n), []).append(row)
                    print(f"{name:6} {n} competitor(s): {row}", flush=True)
    rows = summarise(times)
    columns = ["competitors", *(f"{p}_{c}" for p in POLICIES for c in ("wall_s", "x_quiet", "fit_s", "fit_x_quiet", "cpu_s"))]
    common.show("a training beside CPU-bound competitors: before (legacy threads) and after (fsbench.runtime)",
                rows, columns)
    cmd = " ".join(command(Path("OUT.json"), 0, quick)).replace(" --seed 0", " --seed SEED")
    path = common.write("load", rows, {"command": cmd, "repeats": repeats, "limit_x": limit_x,
                                       "runs": {f"{k[0]}-{k[1]}": v for k, v in times.items()}})
    print(f"the training: {cmd}\nwrote {path}")


def summarise(times: dict[tuple[str, int], list[dict]]) -> list[dict]:
    """Per number of competitors and policy: median wall, fit and CPU seconds, and wall and fit time
    as multiples of the same policy's quiet run ("> " where a run was stopped at the limit)."""
    rows = []
    for n in sorted({k[1] for k in times}):
        row: dict = {"competitors": n}
        for name in POLICIES:
            runs, quiet = times[(name, n)], times[(name, 0)]
            stopped = "> " if any(r["stopped"] for r in runs) else ""
            wall = statistics.median(r["wall_s"] for r in runs)
            fits = [r["fit_s"] for r in runs if r["fit_s"] is not None]
            fit = statistics.median(fits) if fits else None  # none: stopped before its results file
            row |= {f"{name}_wall_s": wall,
                    f"{name}_x_quiet": f"{stopped}{wall / statistics.median(r['wall_s'] for r in quiet):.1f}",
                    f"{name}_fit_s": fit,
                    f"{name}_fit_x_quiet": "stopped" if fit is None else
                    f"{fit / statistics.median(r['fit_s'] for r in quiet):.1f}",
                    f"{name}_cpu_s": statistics.median(r["cpu_s"] for r in runs)}
        rows.append(row)
    return rows


def _opt(args: list[str], flag: str, default: str) -> str:
    return args[args.index(flag) + 1] if flag in args else default


if __name__ == "__main__":
    main()
