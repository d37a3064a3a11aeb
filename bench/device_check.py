"""The device switch checked on one GPU (issue 23): the same small runs on the CPU in fp32 and on the
GPU in fp32 and bf16, as one table.

    python bench/device_check.py              # a GPU machine: CPU fp32 | GPU fp32 | GPU bf16 (≤ 5 min)
    python bench/device_check.py --cpu-only   # any machine: the CPU column alone (what CI can run)
    python bench/device_check.py --device cuda:1 --methods protonet,hand2vec

Five methods (pixels, protonet, finetune on a pretrained backbone, hand2vec, frozen-prototypes) on
two protocols: a small Massey leave-signer-out (4 images per signer and letter: 720 images, 5
folds, S = 1) and the demo's (Omniglot's unseen alphabets, 20-way, S = 1 and 5), each with a
training budget cut to fit the time. Per run: top-1 at the first S with its CI, and how fast the
fold's fit and embedding went (training-view images / fit seconds, test images / embed seconds,
every run from an empty cache). A GPU number is "in" when its top-1 lies inside the CPU run's CI:
on the GPU the arithmetic sums in another order (and bf16 rounds), so numbers move, but no more
than the episodes' own spread. No GPU without --cpu-only: one line, exit 2. Writes
bench/results/device_check.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CPU_THREADS = os.cpu_count() or 1
common.setup(CPU_THREADS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fsbench.data.dataset import FsDataset  # noqa: E402
from fsbench.data.hub import resolve_dataset  # noqa: E402
from fsbench.device import DeviceError, resolve  # noqa: E402
from fsbench.evaluation.runner import RunRequest, run  # noqa: E402
from fsbench.record.shots import shot_key  # noqa: E402

EPISODES = 10
REFERENCE = "cpu"  # the CPU in fp32: what every board entry was computed with
#: (label, method, config on small Massey, config on the demo protocol)
METHODS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("pixels", "pixels", {}, {}),
    ("protonet", "protonet", {"episodes": 20}, {"episodes": 20}),
    ("finetune (pretrained)", "finetune",
     {"backbone": "mediapipe-handnet", "epochs": 1, "batch_size": 32, "finetune_steps": 50},
     {"backbone": "imagenet-efficientnet-lite0", "backbone_args": {"input_size": 64}, "epochs": 1,
      "batch_size": 32, "finetune_steps": 50}),
    ("hand2vec", "hand2vec", {"head_epochs": 10},
     {"backbone": "imagenet-efficientnet-lite0", "backbone_options": {"input_size": 128}, "head_epochs": 10}),
    ("frozen-prototypes", "frozen-prototypes", {"backbone": "mediapipe-handnet"},
     {"backbone_options": {"input_size": 128}}),
]


def small_massey(per_cell: int = 4, seed: int = 0) -> FsDataset:
    """`per_cell` seeded images of every (signer, letter) of Massey: every signer and letter, a
    fraction of the pixels, so leave-signer-out keeps its five folds."""
    data = resolve_dataset("massey")
    rng = np.random.default_rng(seed)
    rows = []
    for signer in np.unique(data.signers):
        for label in np.unique(data.labels):
            cell = np.flatnonzero((data.signers == signer) & (data.labels == label))
            rows.extend(rng.choice(cell, min(per_cell, len(cell)), replace=False).tolist())
    rows = sorted(rows)
    digest = hashlib.sha256(f"{data.content_hash}|small|{per_cell}|{seed}".encode()).hexdigest()
    card = None if data.card is None else replace(data.card, name="massey-small", expected={})
    return FsDataset("massey-small", data.hf.select(rows), list(data.class_names), digest, data.revision, card)


def protocols() -> dict[str, dict[str, Any]]:
    return {
        "massey-small": {"data": small_massey(), "split": "leave-signer-out", "shots": [1], "ways": None},
        "demo": {"data": resolve_dataset("omniglot"), "split": "unseen-class", "shots": [1, 5], "ways": 20},
    }


def one_run(method: str, config: dict[str, Any], protocol: dict[str, Any], device: str, precision: str) -> dict[str, Any]:
    """One run from an empty cache: top-1 and its CI at the first S, fit and embed images/s."""
    before = os.environ["FSBENCH_HOME"]
    with tempfile.TemporaryDirectory(prefix="fsbench-device-check-") as home:
        os.environ["FSBENCH_HOME"] = home  # nothing trained or extracted by another run is reused
        data = protocol["data"]
        request = RunRequest(method, data.name, protocol["split"], protocol["shots"], EPISODES, 0,
                             ways=protocol["ways"], config=dict(config), device=device, precision=precision)
        try:
            results = run(request, data)
        finally:
            os.environ["FSBENCH_HOME"] = before
    top1 = results["metrics"][shot_key(protocol["shots"][0])]["top1"]
    folds = results["split"]["folds"]
    trained = sum(int(f["n_train"]) for f in folds)
    tested = sum(int(f["n_test"]) for f in folds)
    t = results["timings"]
    return {"top1": top1["mean"], "ci95": top1["ci95"], "fit_s": t["fit_s"], "embed_s": t["embed_s"],
            "train_img_s": trained / t["fit_s"] if t["fit_s"] > 0 and trained else None,
            "embed_img_s": tested / t["embed_s"] if t["embed_s"] > 0 and tested else None,
            "device_name": results["hardware"]["device_name"]}


def inside(value: float, ci: list[float]) -> bool:
    return ci[0] - 1e-9 <= value <= ci[1] + 1e-9


def fmt_rate(r: float | None) -> str:
    return "–" if r is None else f"{r:,.0f}"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = ["protocol", "method", *[f"top-1 {c}" for c in columns], *[f"train img/s {c}" for c in columns],
            *[f"embed img/s {c}" for c in columns]]
    lines = []
    for r in rows:
        cpu = r[REFERENCE]
        cells = [r["protocol"], r["label"]]
        for c in columns:
            x = r[c]
            mark = "" if c == REFERENCE else (" in" if inside(x["top1"], cpu["ci95"]) else " OUT")
            ci = f" [{100 * x['ci95'][0]:.1f}–{100 * x['ci95'][1]:.1f}]" if c == REFERENCE else ""
            cells.append(f"{100 * x['top1']:.1f}{ci}{mark}")
        cells += [fmt_rate(r[c]["train_img_s"]) for c in columns] + [fmt_rate(r[c]["embed_img_s"]) for c in columns]
        lines.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    out = [" | ".join(h.ljust(w) for h, w in zip(head, widths)), "-+-".join("-" * w for w in widths)]
    out += [" | ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in lines]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="the device to check against the CPU (default cuda; "
                        "--device cpu runs the whole script on a machine without one, bf16 included)")
    parser.add_argument("--cpu-only", action="store_true", help="the CPU column alone (no GPU needed)")
    parser.add_argument("--methods", help="comma-separated labels' methods to keep, e.g. protonet,hand2vec")
    parser.add_argument("--protocols", help="comma-separated: massey-small, demo")
    args = parser.parse_args()
    columns = [REFERENCE]
    if not args.cpu_only:
        try:
            gpu = resolve(args.device)
        except DeviceError as exc:
            print(f"device_check: {exc} (run it on a GPU machine, or --cpu-only for the CPU column)", file=sys.stderr)
            return 2
        columns += [f"{gpu.device} fp32", f"{gpu.device} bf16"]
    keep = set(args.methods.split(",")) if args.methods else None
    chosen = [m for m in METHODS if keep is None or m[1] in keep]
    wanted = set(args.protocols.split(",")) if args.protocols else None
    rows = []
    for name, protocol in protocols().items():
        if wanted is not None and name not in wanted:
            continue
        for label, method, massey_cfg, demo_cfg in chosen:
            config = massey_cfg if name == "massey-small" else demo_cfg
            row: dict[str, Any] = {"protocol": name, "label": label, "method": method, "config": config}
            for column in columns:
                device, precision = ("cpu", "fp32") if column == REFERENCE else (args.device, column.split()[1])
                row[column] = one_run(method, config, protocol, device, precision)
                print(f"{name} {label} {column}: {100 * row[column]['top1']:.1f} "
                      f"(fit {row[column]['fit_s']:.0f} s, embed {row[column]['embed_s']:.0f} s)", file=sys.stderr)
            rows.append(row)
    print(table(rows, columns))
    print(f"inside CI (GPU top-1 inside the CPU run's 95% CI): "
          f"{sum(inside(r[c]['top1'], r[REFERENCE]['ci95']) for r in rows for c in columns[1:])}"
          f"/{len(rows) * (len(columns) - 1)}; CPU threads {CPU_THREADS}, torch {torch.__version__}")
    path = common.write("device_check", rows, {"columns": columns, "episodes": EPISODES})
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
