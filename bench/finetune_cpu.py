"""Fine-tuning the pretrained hand net on two CPU cores: what each shortcut costs and buys.

    python bench/finetune_cpu.py cost [--quick]             # seconds per image, as ratios to the full recipe
    python bench/finetune_cpu.py dev VARIANT [VARIANT ...]  # top-1 on massey-224 --dev, minutes per row

`cost` times, in one process, a training step of the full recipe (every stage trains, 224 px,
augmentation per step: the GPU calibration of docs/baselines.md) against the CPU path's parts at
160 / 192 / 224 px and 1–6 trainable stages: the frozen trunk run once per cached view, and a
training step of the top stages alone on cached activations. From those it estimates the minutes
of a whole Massey leave-signer-out row (5 folds of ~2 012 training images) for each recipe, and
prints each as a ratio of the full recipe's. `dev VARIANT` runs `finetune` on `massey-224`'s
development split (leave-signer-out among the first fold's training signers: no test signer is
seen) and prints top-1 at S = 0, 1, 4 with the measured training minutes; the variants are the
recipes below, named as `stagesS-kK-sizePX-eE` (`-noaug`: no augmentation; `-prior`: the
prior-prototype classifier instead of plain prototypes; `stages0-k1-size224-e1-noaug`: the frozen net).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

#: Massey's training images per leave-signer-out fold, averaged over the five folds (2515 · 4/5)
TRAIN_IMAGES = 2012
FOLDS = 5
BATCH = 64
VARIANT = re.compile(r"stages(-?\d+)-k(\d+)-size(\d+)-e(\d+)(-noaug)?(-prior)?$")


def recipe(variant: str) -> dict:
    """`stages4-k4-size224-e15` → the `recipe` overrides of fsbench's fine-tuning trainer."""
    m = VARIANT.match(variant)
    if not m:
        raise SystemExit(f"variant {variant!r}: write it as stagesS-kK-sizePX-eE[-noaug][-prior], e.g. stages4-k4-size224-e15")
    stages, views, size, epochs = (int(g) for g in m.groups()[:4])
    return {"stages": stages, "views": views, "size": size, "epochs": epochs, "augment": not m.group(5)}


def _step_seconds(net, objective, x, y, trainable) -> float:
    import torch

    params = [p for p in [*net.parameters(), *objective.parameters()] if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    net.train()

    def step():
        opt.zero_grad()
        objective.loss(trainable(x), y).backward()
        opt.step()

    return common.timeit(step, repeats=3 if common.quick_flag() else 5)


def cost() -> None:
    """Per-image seconds of each part, and each recipe's row minutes as a ratio to the full one."""
    common.setup()
    import torch

    from fsbench import registry
    from fsbench.training.augment import Augment
    from fsbench.training.finetune import StagedNet
    from fsbench.training.objectives import CrossEntropy

    gen = torch.Generator().manual_seed(0)
    images = torch.rand(BATCH, 3, 224, 224, generator=gen)
    y = torch.randint(36, (BATCH,), generator=gen)
    augment = Augment.for_card(None)
    sizes = (224,) if common.quick_flag() else (160, 192, 224)
    rows = []
    for size in sizes:
        backbone = registry.get("backbones", "mediapipe-handnet")()
        full, head = StagedNet(backbone, -1, size), CrossEntropy("cosine", backbone.feature_dim, 36)
        full_step = _step_seconds(full, head, images, y, lambda x: full(augment(x, gen))) / BATCH
        rows.append({"variant": f"all stages, {size} px", "size": size, "stages": -1, "trunk_s_per_img": 0.0,
                     "step_s_per_img": full_step})
        for stages in (1, 2, 4, 6):
            net = StagedNet(registry.get("backbones", "mediapipe-handnet")(), stages, size)
            net.eval()
            trunk = common.timeit(lambda: net.trunk(augment(images, gen)), repeats=3) / BATCH
            h = net.trunk(images)
            step = _step_seconds(net, head, h, y, net.top) / BATCH
            rows.append({"variant": f"last {stages} stages, {size} px", "size": size, "stages": stages,
                         "trunk_s_per_img": trunk, "step_s_per_img": step})
        print(f"{size} px measured", flush=True)
    base = next(r for r in rows if r["stages"] == -1 and r["size"] == 224)["step_s_per_img"]
    recipes = [("full: all stages, 224 px, 15 epochs (the GPU calibration)", 224, -1, 0, 15)]
    recipes += [(f"last {s} stages, {px} px, K={k}, {e} epochs", px, s, k, e)
                for px in sizes for s in (2, 4, 6) for k in (4, 8) for e in (10, 15)]
    table = []
    for label, px, s, k, e in recipes:
        r = next(r for r in rows if r["stages"] == s and r["size"] == px)
        seconds = FOLDS * TRAIN_IMAGES * (k * r["trunk_s_per_img"] + e * r["step_s_per_img"])
        table.append({"variant": label, "row_minutes": round(seconds / 60, 1),
                      "ratio_to_full": round(seconds / (FOLDS * TRAIN_IMAGES * 15 * base), 3)})
    common.show("per-image seconds on this machine", rows, ["variant", "trunk_s_per_img", "step_s_per_img"])
    common.show("a Massey leave-signer-out row (5 folds × 2 012 training images), estimated",
                table, ["variant", "row_minutes", "ratio_to_full"])
    print(f"written {common.write('finetune_cpu_cost', rows, {'rows_estimated': table})}")


def dev(variants: list[str]) -> None:
    """Each variant's top-1 on massey-224's development split and its measured training minutes."""
    common.setup()
    from fsbench.evaluation.runner import RunRequest, run

    rows = []
    for variant in variants:
        classifier = "prior-prototype" if variant.endswith("-prior") else "prototype"
        config = {"backbone": "mediapipe-handnet", "classifier": classifier, "recipe": recipe(variant)}
        start = time.perf_counter()
        doc = run(RunRequest(method="finetune", dataset="massey-224", split="leave-signer-out", shots=[0, 1, 4],
                             episodes=10, config=config, dev=True))
        trainings = doc["method"].get("trainings", [])
        row = {"variant": variant, **{s: round(m["top1"]["mean"] * 100, 1) for s, m in doc["metrics"].items()},
               "train_minutes": round(sum(t["train_seconds"] or 0 for t in trainings) / 60, 1),
               "wall_minutes": round((time.perf_counter() - start) / 60, 1),
               "dev_folds": len(trainings), "config_hash": doc["method"]["config_hash"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    common.show("finetune on mediapipe-handnet, massey-224 leave-signer-out --dev", rows,
                ["variant", "S=0", "S=1", "S=4", "train_minutes", "wall_minutes", "dev_folds"])
    print(f"written {common.write('finetune_cpu_dev', rows)}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--quick"]
    if args[:1] == ["cost"]:
        cost()
    elif args[:1] == ["dev"] and args[1:]:
        dev(args[1:])
    else:
        raise SystemExit(__doc__)
