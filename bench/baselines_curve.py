"""Learning curves of the few-shot baselines on a development set: accuracy vs training length.

    python bench/baselines_curve.py --method protonet --dataset omniglot --split unseen-class \
        --ways 20 --shots 1,5 --points 250,500,1000,2000 [--set KEY=VALUE ...] [--out runs/curves/x.json]

Each point is `fsbench run ... --dev --set episodes=N` (or epochs=N for finetune and
supervised-cnn): the split inside the first fold's training rows, so the length picked from the
curve never saw a test row. Every point's training state is saved (`snapshots`) and the next,
longer point resumes from it — the schedules do not depend on a run's length, so this gives the
same weights as training each point from scratch, at the cost of the longest one. Training
seconds are the cumulative training time at each point, summed over the development folds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import click  # noqa: E402


def _ints(text: str) -> list[int]:
    return sorted({int(x) for x in text.split(",") if x.strip()})


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@click.command()
@click.option("--method", required=True)
@click.option("--dataset", required=True)
@click.option("--split", required=True)
@click.option("--shots", default="1,5", show_default=True)
@click.option("--ways", type=int, default=None)
@click.option("--episodes", type=int, default=50, show_default=True, help="evaluation episodes per S")
@click.option("--points", required=True, help="training lengths (episodes or epochs), comma-separated")
@click.option("--set", "overrides", multiple=True, help="KEY=VALUE config overrides (JSON values)")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None)
def main(method, dataset, split, shots, ways, episodes, points, overrides, out_path) -> None:
    common.setup(threads=1)
    from fsbench import registry
    from fsbench.atomic import write_text
    from fsbench.evaluation.runner import RunRequest, run

    cls = registry.get("methods", method)
    length_key = getattr(cls, "length_key", "episodes")
    config = {k: _value(v) for k, v in (o.split("=", 1) for o in overrides)}
    steps = _ints(points)
    rows = []
    for n in steps:  # each point resumes from the one before it and saves its own state
        cfg = {**config, length_key: n, "snapshots": steps}
        doc = run(RunRequest(method=method, dataset=dataset, split=split, shots=_ints(shots),
                             episodes=episodes, ways=ways, config=cfg, dev=True))
        trainings = doc["method"].get("trainings", [])
        rows.append({
            length_key: n,
            "top1": {s: round(m["top1"]["mean"] * 100, 1) for s, m in doc["metrics"].items()},
            "ci95": {s: [round(c * 100, 1) for c in m["top1"]["ci95"]] for s, m in doc["metrics"].items()},
            "train_seconds": round(sum(t["train_seconds"] or 0 for t in trainings), 1),
            "config_hash": doc["method"]["config_hash"],
        })
        print(f"{length_key}={n}: {rows[-1]['top1']} after {rows[-1]['train_seconds']} s", flush=True)
    head = f"| {length_key} | " + " | ".join(rows[0]["top1"]) + " | training (s, all dev folds) |"
    print(head + "\n|" + "---|" * (len(rows[0]["top1"]) + 2))
    for r in rows:
        print(f"| {r[length_key]} | " + " | ".join(f"{v:.1f}" for v in r["top1"].values()) + f" | {r['train_seconds']:.0f} |")
    out = out_path or common.ROOT / "runs" / "curves" / f"{method}__{dataset}__{split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps({"method": method, "dataset": dataset, "split": split, "ways": ways,
                                "shots": shots, "episodes": episodes, "config": config,
                                "machine": common.machine(), "rows": rows}, indent=1))
    print(f"written {out}")


if __name__ == "__main__":
    main()
