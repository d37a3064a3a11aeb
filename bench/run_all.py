"""Run every bench script, each in its own process (so peak RSS is per script), then summarise.

    python bench/run_all.py [--quick] [--only episodes,embed_inference]

Results: bench/results/<name>.json. Scripts owned elsewhere (prepare_throughput,
mediapipe_throughput) run too when present; mediapipe only if it is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OURS = ["episodes", "embed_inference", "training", "e2e"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats/episodes/epochs: minutes, not an hour")
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(OURS))
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(OURS)
    if not args.only and (HERE / "mediapipe_throughput.py").exists() and importlib.util.find_spec("mediapipe"):
        names.append("mediapipe_throughput")
    summary = []
    for name in names:
        cmd = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if args.quick and name in OURS else [])
        t = time.perf_counter()
        rc = subprocess.run(cmd).returncode
        summary.append((name, rc, time.perf_counter() - t))
    from rich.console import Console
    from rich.table import Table

    table = Table(title="bench/run_all")
    for c in ("script", "exit", "wall s", "peak RSS MB"):
        table.add_column(c)
    for name, rc, wall in summary:
        res = HERE / "results" / f"{name}.json"
        rss = json.loads(res.read_text()).get("peak_rss_mb", "—") if res.exists() and name in OURS else "—"
        table.add_row(name, str(rc), f"{wall:.0f}", str(rss))
    Console().print(table)
    sys.exit(max((rc for _, rc, _ in summary), default=0))


if __name__ == "__main__":
    main()
