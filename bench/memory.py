"""Peak RSS of a whole `fsbench run`, and what holds the memory at the peak.

The command runs as a child process, cold then warm in one FSBENCH_HOME (warm: every trained
model, label and feature cache already there — the run a user repeats). Its RSS (with any worker
processes) is sampled every 0.25 s from /proc; at the highest sample the child's mappings are
grouped from /proc/PID/smaps — malloc heap and anonymous memory (tensors, ORT arenas), shared
libraries (torch, MediaPipe, ONNX Runtime code), FSBENCH_HOME files (memory-mapped pixel and
feature caches) and the rest — so a number comes with its cause. `ru_maxrss` from wait4 is the
authoritative peak.

    python bench/memory.py [--runs cold,warm] [--allocator tuned|glibc] [-- fsbench run ARGS]
    (default: run --method hand2vec --dataset massey --split leave-signer-out)

`--allocator glibc` sets FSBENCH_ALLOCATOR=glibc, so `fsbench.runtime.tune_process` leaves
malloc alone: the comparison that says what the allocator settings cost in memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, show, write  # noqa: E402

DEFAULT = ["run", "--method", "hand2vec", "--dataset", "massey", "--split", "leave-signer-out"]
LIMIT_MB = 2048.0


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (the demo's and Ray's workers count too)."""
    children = defaultdict(list)
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def rss_mb(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def breakdown(pid: int, home: str) -> dict[str, float]:
    """RSS (MB) of one process by what its mappings are."""
    groups: dict[str, float] = defaultdict(float)
    name = "anon"
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        head = line.split()
        if not head:
            continue
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            path = head[5] if len(head) > 5 else ""
            if path == "[heap]":
                name = "malloc heap"
            elif not path or path.startswith("[anon") or path == "[stack]":
                name = "anonymous (tensors, arenas, thread heaps)"
            elif path.startswith(home):
                name = "FSBENCH_HOME files (mmapped caches)"
            elif ".so" in path:
                name = "shared libraries (" + ("torch/CUDA" if "torch" in path or "nvidia" in path else
                                               "mediapipe/cv2" if "mediapipe" in path or "cv2" in path or "opencv" in path else
                                               "onnxruntime" if "onnxruntime" in path else "other") + ")"
            else:
                name = "other files"
        elif head[0] == "Rss:":
            groups[name] += int(head[1]) / 1024
    return {k: round(v, 1) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}


def measure(argv: list[str], env: dict[str, str]) -> dict:
    samples: list[tuple[float, float]] = []
    peak: dict = {"rss": 0.0, "at": 0.0, "by": {}}
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                pids = tree(proc.pid)
                now = rss_mb(pids)
                samples.append((time.perf_counter() - t0, now))
                if now > peak["rss"] + 20:
                    peak.update(rss=now, at=time.perf_counter() - t0, by=breakdown(proc.pid, env["FSBENCH_HOME"]))
                time.sleep(0.25)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        thread.join()
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(argv[3:])} failed: {err.read()[-800:]}")
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "sampled_peak_mb": round(peak["rss"], 1),
            "peak_at_s": round(peak["at"], 1), "at_peak": peak["by"],
            "timeline": [(round(t, 1), round(r)) for t, r in samples[:: max(1, len(samples) // 200)]]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="cold,warm")
    ap.add_argument("--allocator", choices=["tuned", "glibc"], default="tuned")
    ap.add_argument("--home", default="/tmp/fsbench-memory-home", help="kept between calls: the warm caches")
    ap.add_argument("command", nargs="*", help="fsbench arguments (default: the Massey hand2vec run)")
    args = ap.parse_args()
    command = args.command or DEFAULT
    env = dict(os.environ, FSBENCH_HOME=args.home, FSBENCH_QUIET="1")
    env.setdefault("FSBENCH_DATA", str(ROOT.parent / "shared" / "data"))
    if args.allocator == "glibc":
        env["FSBENCH_ALLOCATOR"] = "glibc"
    argv = [sys.executable, "-c", "from fsbench.cli import main; main()", *command,
            "--out", str(Path(args.home) / "memory-run.json")]
    rows = []
    for kind in args.runs.split(","):
        row = {"run": f"{kind} · allocator {args.allocator} · fsbench {' '.join(command)}", **measure(argv, env)}
        row["meets_2gb"] = row["peak_rss_mb"] <= LIMIT_MB if kind == "warm" else None
        rows.append(row)
        print({k: v for k, v in row.items() if k != "timeline"}, flush=True)
    show("peak RSS of a whole run", rows, ["run", "wall_s", "cpu_s", "peak_rss_mb", "peak_at_s", "meets_2gb"])
    print(f"wrote {write('memory', rows, {'machine_at_start': machine()})}")


if __name__ == "__main__":
    main()
