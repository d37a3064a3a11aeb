"""Prepare throughput (images/s) and load time for the real datasets (massey, omniglot).

    FSBENCH_DATA=../shared/data python bench/prepare_throughput.py [--out bench.json] [--datasets massey,omniglot]

Each dataset is prepared into a temporary folder (the user's prepared copy is not touched),
then loaded twice: the first load converts parquet to Arrow in the HF cache, the second is
the everyday cost. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def bench_one(name: str, workdir: Path) -> dict:
    from fsbench.data.hub import default_raw, prepare_dataset
    from fsbench.data.loader import load_prepared, registered_card

    raw = default_raw(registered_card(name))
    out = workdir / name
    t0 = time.perf_counter()
    report = prepare_dataset(name, raw, out)
    prep = time.perf_counter() - t0
    t1 = time.perf_counter()
    load_prepared(out)
    cold = time.perf_counter() - t1
    t2 = time.perf_counter()
    data = load_prepared(out)
    warm = time.perf_counter() - t2
    size = sum(p.stat().st_size for p in (out / "data").iterdir())
    return {
        "dataset": name,
        "images": len(data),
        "prepare_s": round(prep, 2),
        "images_per_s": round(len(data) / prep, 1),
        "load_cold_s": round(cold, 3),
        "load_warm_s": round(warm, 3),
        "parquet_mb": round(size / 2**20, 2),
        "content_hash": report.content_hash,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="massey,omniglot")
    ap.add_argument("--out", default="bench/prepare_throughput.json")
    args = ap.parse_args()
    os.environ.setdefault("FSBENCH_QUIET", "1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="fsbench-bench-") as tmp:
        os.environ["FSBENCH_HOME"] = str(Path(tmp) / "home")  # cold caches, nothing shared
        for name in args.datasets.split(","):
            rows.append(bench_one(name.strip(), Path(tmp)))
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "results": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))

    from rich.console import Console
    from rich.table import Table

    table = Table(title="fsbench prepare throughput")
    for col in ("dataset", "images", "prepare_s", "images_per_s", "load_cold_s", "load_warm_s", "parquet_mb"):
        table.add_column(col, justify="right" if col != "dataset" else "left")
    for r in rows:
        table.add_row(*(str(r[c.header]) for c in table.columns))
    Console().print(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
