"""End-to-end wall time of `fsbench run --method hand2vec --dataset massey --split leave-signer-out`.

    python bench/e2e.py [--quick]

Four runs as subprocesses, in order, sharing one fresh FSBENCH_HOME: cold (nothing cached:
prepare, keypoints, backbones, features), warm (same command: cache hits), a different head
(f = 8: the backbones and frozen features must be reused) and a different S. The baseline of
the ratios is the cold run. Peak RSS is each run's own (bench/memory.py measures how).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()

from embed_inference import keypoint_source  # noqa: E402
from memory import measure  # noqa: E402


def main() -> None:
    quick = common.quick_flag()
    fsbench = str(Path(sys.executable).with_name("fsbench"))
    base = [fsbench, "run", "--method", "hand2vec", "--dataset", "massey", "--split", "leave-signer-out",
            "--episodes", "10" if quick else "100", "--set", f"backbone.keypoint_source={keypoint_source()}"]
    if quick:
        base += ["--set", "backbone.epochs=1", "--set", "head.epochs=5"]
    runs = [
        ("cold (fresh cache)", ["--shots", "1,5"]),
        ("warm (same command)", ["--shots", "1,5"]),
        ("different head (f=8)", ["--shots", "1,5", "--set", "head.features=8"]),
        ("different S", ["--shots", "2,10"]),
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fsbench-e2e-") as home:
        env = {**os.environ, "FSBENCH_HOME": home, "FSBENCH_QUIET": "1"}
        for name, extra in runs:
            # each run's own peak (wait4); RUSAGE_CHILDREN would repeat the cold run's for every later row
            m = measure([*base, *extra, "--out", f"{home}/r.json"], env)
            rows.append({"run": name, "wall s": m["wall_s"], "peak RSS MB": m["peak_rss_mb"]})
            print(rows[-1], flush=True)
    cold = rows[0]["wall s"]
    for r in rows:
        r["× faster than cold"] = round(cold / r["wall s"], 1)
    common.show("fsbench run hand2vec massey leave-signer-out", rows,
                ["run", "wall s", "× faster than cold", "peak RSS MB"])
    path = common.write("e2e", rows, {"command": " ".join(base[1:]), "quick": quick})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
