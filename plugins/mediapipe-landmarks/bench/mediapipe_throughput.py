"""MediaPipe Hands throughput (images/s) at 1 and N worker threads, uncached.

Each worker owns one `Hands` graph (a graph is not re-entrant); `process()` releases the GIL
while the graph runs, so threads overlap. Images are the real photos of hand-keypoints/
(FSBENCH_DATA), resized to --size and cycled to --images. Prints a table, writes JSON.

    python plugins/mediapipe-landmarks/bench/mediapipe_throughput.py --threads 2 --out mp.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

from fsbench.paths import data_root
from fsbench_mediapipe_landmarks.detector import DetectorConfig, HandDetector, model_version


def load_images(size: int, n: int) -> np.ndarray:
    files = sorted(p for p in (data_root() / "hand-keypoints").rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    if not files:
        raise SystemExit(f"no images under {data_root() / 'hand-keypoints'}; set FSBENCH_DATA")
    base = [np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)) for f in files]
    return np.stack([base[i % len(base)] for i in range(n)])


def measure(images: np.ndarray, threads: int, config: DetectorConfig) -> dict[str, float]:
    detectors = [HandDetector(config) for _ in range(threads)]
    for d in detectors:  # build the graphs and warm XNNPACK outside the timed region
        d.detect(images[0])
    parts = np.array_split(np.arange(len(images)), threads)

    def work(k: int) -> int:
        return sum(detectors[k].detect(images[i]).detected for i in parts[k])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        found = sum(pool.map(work, range(threads)))
    dt = time.perf_counter() - t0
    for d in detectors:
        d.close()
    return {"threads": threads, "images": len(images), "seconds": round(dt, 3),
            "img_per_s": round(len(images) / dt, 2), "ms_per_img": round(1000 * dt / len(images), 2),
            "detected": int(found)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2, help="also measures 1 thread as the reference")
    ap.add_argument("--pad", type=float, default=0.25)
    ap.add_argument("--out", type=Path, default=Path("mediapipe_throughput.json"))
    args = ap.parse_args()
    config = DetectorConfig(pad=args.pad)
    images = load_images(args.size, args.images)
    rows = [measure(images, t, config) for t in sorted({1, args.threads})]
    doc = {"model": model_version(config.model_complexity), "size": args.size, "pad": args.pad,
           "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
           "results": rows}
    args.out.write_text(json.dumps(doc, indent=2))
    table = Table(title=f"MediaPipe Hands, {args.size}px + pad {args.pad} ({doc['model']})")
    for col in ("threads", "images", "img/s", "ms/img", "detected"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["threads"]), str(r["images"]), f"{r['img_per_s']:.1f}", f"{r['ms_per_img']:.1f}", str(r["detected"]))
    Console().print(table)


if __name__ == "__main__":
    main()
