"""Prices for the time estimate every `fsbench run`, `sweep` and `demo` prints first (fsbench/cost.py).

    python bench/cost_model.py [--quick]   # writes fsbench/cost_model.json and bench/results/cost_model.json
    python bench/cost_model.py --only finetune/mediapipe-handnet:stages2-views4   # re-price one entry, keep the rest

Each priced method runs a few short cold runs (a fresh FSBENCH_HOME each: nothing trained, no
features cached) on a 12-letter subset of Massey (leave-signer-out, 5 folds, ~840 images, made
with `fsbench prepare folder` from the raw images), at two training lengths or episode sizes.
`fsbench.evaluation.work.run_work` counts each run exactly as the plan line will; non-negative
least squares then fits the units to the runner's own timings: fit_s to steps and trained
images (plus the frozen images for methods on frozen features, with embed_s), embed_s to the
images embedded, evaluate_s / episodes per episode. Startup (imports, the first optimiser) is
timed in fresh processes with bytecode caches warm, as after a normal install.

Prices are CPU seconds at one torch thread (FSBENCH_THREADS=1): each phase's wall time times the
run's CPU/wall ratio, so a machine shared with other work (this one runs 8 sessions on 2 cores)
still measures what an idle core takes; the estimate is then the time of a run on an idle
machine of this class (a second thread gains little on these small networks). The CPU and the
load average go into the JSON, and a last row checks the prices against a run they were not
fitted on (protonet on a 4-letter subset, 280 images, the issue's example): predicted against
measured.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

os.environ["FSBENCH_THREADS"] = "1"
common.setup(threads=1)

from scipy.optimize import nnls  # noqa: E402

from fsbench import paths  # noqa: E402
from fsbench.data.hub import prepare_dataset  # noqa: E402
from fsbench.evaluation.runner import RunRequest, run, work_of  # noqa: E402
from fsbench.record.document import read_results  # noqa: E402

MODEL = common.ROOT / "fsbench" / "cost_model.json"
LETTERS_12 = "abcdefghijkl"
#: method (or method/variant) → configs whose counted work differs enough to separate the units
RUNS: dict[str, tuple[str, list[dict]]] = {
    "pixels": ("pixels", [{}]),
    "protonet": ("protonet", [{"episodes": 30}, {"episodes": 30, "train_ways": 4}]),
    "matchingnet": ("matchingnet", [{"episodes": 30}, {"episodes": 30, "train_ways": 4}]),
    "finetune": ("finetune", [{"epochs": 1}, {"epochs": 2}]),
    "supervised-cnn": ("supervised-cnn", [{"epochs": 1}]),
    "hand2vec/mediapipe-handnet": ("hand2vec", [{"head_epochs": 2}, {"head_epochs": 10}]),
    'hand2vec/imagenet-efficientnet-lite0:{"input_size": 128}': (
        "hand2vec", [{"backbone": "imagenet-efficientnet-lite0", "backbone_options": {"input_size": 128}, "head_epochs": e}
                     for e in (2, 10)]),
    "frozen-prototypes/imagenet-efficientnet-lite0": ("frozen-prototypes", [{}]),
    # the CPU fine-tuning recipe (fsbench.training.finetune.CPU_RECIPE): epochs and views varied so
    # the trained stages' images and the frozen trunk's cached views price apart
    "finetune/mediapipe-handnet:stages2-views4": ("finetune", [
        {"backbone": "mediapipe-handnet", "recipe": {"stages": 2, "views": 4, "epochs": 1}},
        {"backbone": "mediapipe-handnet", "recipe": {"stages": 2, "views": 2, "epochs": 3}}]),
}
#: methods that train and embed exactly as another one does
ALIASES = {"protonet-joint": "protonet"}


def subset(name: str, letters: str) -> str:
    """A folder dataset of Massey's raw images for `letters` (all five signers), prepared once."""
    if (paths.prepared_dir(name) / "fsbench.json").exists():
        return name
    raw = Path(tempfile.mkdtemp(prefix=f"{name}-raw-"))
    for letter in letters:
        (raw / letter).mkdir()
        for image in (paths.data_root() / "massey" / "asl_dataset" / letter).iterdir():
            (raw / letter / image.name).symlink_to(image.resolve())
    prepare_dataset("folder", raw, None, dataset_name=name, pattern="{label}/{signer}_{*}.jpeg")
    return name


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cold_run(request: RunRequest) -> tuple[dict, object]:
    """One run in a fresh FSBENCH_HOME that shares only the prepared datasets; its timings in CPU
    seconds (wall × the run's CPU/wall ratio: what an idle core would take)."""
    warm = paths.home()
    with tempfile.TemporaryDirectory(prefix="fsbench-cost-") as home:
        (Path(home) / "datasets").symlink_to(warm / "datasets")
        os.environ["FSBENCH_HOME"] = home
        try:
            work = work_of(request)
            wall, cpu = time.perf_counter(), cpu_s()
            results = run(request, announce=False)
            ratio = (cpu_s() - cpu) / (time.perf_counter() - wall)
        finally:
            os.environ["FSBENCH_HOME"] = str(warm)
    results["timings"] = {k: round(v * min(1.0, ratio), 3) for k, v in results["timings"].items()}
    results["timings"]["cpu_per_wall"] = round(ratio, 3)
    return results, work


def fit_prices(rows: list[tuple[dict, object]]) -> dict[str, float]:
    """Per-unit seconds from (results, work) pairs by non-negative least squares."""
    works = [w for _, w in rows]
    frozen = works[0].frozen_images > 0
    trunk = any(t.trunk for w in works for t in w.trainings)
    fit_x = np.array([[sum(t.steps for t in w.trainings), sum(t.images for t in w.trainings)]
                      + ([w.frozen_images] if frozen else []) + ([sum(t.trunk for t in w.trainings)] if trunk else [])
                      for w in works], float)
    fit_y = np.array([r["timings"]["fit_s"] + (r["timings"]["embed_s"] if frozen else 0.0) for r, _ in rows])
    if np.linalg.matrix_rank(fit_x[:, :2]) < 2:  # steps ∝ images (fixed batches): price the images only
        fit_x[:, 0] = 0
    coef = nnls(fit_x, fit_y)[0] if fit_x.any() else np.zeros(fit_x.shape[1])
    embedded = sum(w.embedded for w in works)
    return {
        "step_s": float(coef[0]), "image_s": float(coef[1]), "frozen_image_s": float(coef[2]) if frozen else 0.0,
        **({"trunk_image_s": float(coef[-1])} if trunk else {}),
        "embed_image_s": 0.0 if frozen or not embedded else sum(r["timings"]["embed_s"] for r, _ in rows) / embedded,
        "episode_s": sum(r["timings"]["evaluate_s"] for r, _ in rows) / sum(w.episodes for w in works),
    }


def startup_s() -> float:
    """CPU seconds of a fresh process up to its first optimiser and episode kernels, bytecode
    cached (the second of two runs), as after a normal install."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "fsbench-cost-pyc")
    code = ("import torch, fsbench.evaluation.runner, fsbench_fewshot_baselines.protonet; "
            "torch.optim.Adam([torch.zeros(1, requires_grad=True)])")
    spent = []
    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return spent[-1]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "an unknown CPU"


def main() -> None:
    quick = common.quick_flag()
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
    if only and not set(only) <= set(RUNS):
        sys.exit(f"--only: unknown price {sorted(set(only) - set(RUNS))}; choose from {sorted(RUNS)}")
    data = subset("massey-12", LETTERS_12)
    cold_run(RunRequest("pixels", data, "leave-signer-out", [1], 1, 0))  # once per process: kernels compiled
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # once per process: torch._dynamo imported
    prices, rows = {}, []
    for key, (method, configs) in RUNS.items():
        if (quick and key not in ("pixels", "protonet")) or (only and key not in only):
            continue
        done = [cold_run(RunRequest(method, data, "leave-signer-out", [1], 2, 0, config=c)) for c in configs]
        prices[key] = {k: round(v, 7) for k, v in fit_prices(done).items()}
        for (r, w), c in zip(done, configs):
            rows.append({"price": key, "config": c, **r["timings"], "steps": sum(t.steps for t in w.trainings),
                         "images": sum(t.images for t in w.trainings), "frozen_images": w.frozen_images,
                         "embedded": w.embedded, "episodes": w.episodes})
        print(key, prices[key], flush=True)
    for alias, of in ALIASES.items():
        if of in prices:
            prices[alias] = prices[of]
    if only:  # one entry re-priced: the others keep their measurement
        load = f"{os.getloadavg()[0]:.1f}"
        doc = json.loads(MODEL.read_text())
        for key in only:
            doc["methods"][key] = prices[key]
            doc.setdefault("remeasured", {})[key] = {"measured": time.strftime("%Y-%m-%d"), "load_average": float(load)}
        MODEL.write_text(json.dumps(doc, indent=1) + "\n")
        common.write("cost_model_" + "_".join(k.replace("/", "-").replace(":", "-") for k in only), rows, {"model": doc})
        return
    doc = {
        "machine": f"one core of an {cpu_name()}",
        "how": f"CPU seconds at one thread (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores while "
               "measured); bench/cost_model.py",
        "measured": time.strftime("%Y-%m-%d"), "dataset": "massey-12 (12 Massey letters, 5 signers), leave-signer-out",
        "startup_s": round(startup_s(), 1), "methods": prices,
    }
    if not quick:
        MODEL.write_text(json.dumps(doc, indent=1) + "\n")
        from fsbench import cost

        cost.model.cache_clear()
        check = RunRequest("protonet", subset("massey-4", "abcd"), "leave-signer-out", [1, 5], 10, 0,
                           config={"episodes": 100})
        result, work = cold_run(check)
        rows.append({"price": "check: protonet on massey-4 (280 images), episodes=100, not fitted",
                     "predicted_s": round(cost.estimate(work) - doc["startup_s"], 1), **result["timings"]})
        # a committed run of another time and load (wall seconds, 1 thread): the order of magnitude
        committed = read_results(common.ROOT / "results" / "massey__leave-signer-out" / "protonet__27ba5403.json")
        p = committed["protocol"]
        work = work_of(RunRequest("protonet", "massey", "leave-signer-out", p["shots"], p["episodes"], p["seed"],
                                  config=committed["method"]["config"]))
        rows.append({"price": "check: results/massey__leave-signer-out/protonet__27ba5403.json (its own wall times)",
                     "predicted_s": round(cost.estimate(work) - doc["startup_s"], 1), **committed["timings"]})
    common.write("cost_model", rows, {"model": doc})
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
