"""`fsbench demo`: the whole pipeline on the embedded Omniglot background sets.

Prepares the MIT-licensed Omniglot zips shipped inside the package (no download), then runs a
20-way unseen-class benchmark at S=1 and S=5 for `pixels` and every installed method that
declares a `demo_config`, prints one comparison table, writes a self-contained HTML board and
says what to try next.

The methods run in `jobs` worker processes (default: one per usable core) that share the usable
cores' torch threads (`fsbench.runtime.decide_threads`: one each when there are as many workers as
cores), longest first, so the demo waits about as long as its slowest method while the others
share the other core, instead of the sum of all. `--jobs 1` runs them one after the other.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from rich.console import Console

from fsbench import registry
from fsbench.cli.console import hints
from fsbench.progress import say
from fsbench.record.shots import shot_key
from fsbench.record.document import write_results
from fsbench.runtime import decide_threads, prepare_environment, torch_threads, usable_cores
from fsbench.boards.tables import comparison_table, results_table

console = Console()
BOARD_HTML = "board.html"
#: slowest first, so the longest training starts at once (the rest fill the other worker)
ORDER = ("hand2vec", "finetune", "matchingnet", "protonet")


def demo_methods() -> list[str]:
    found = ["pixels"]
    for name, cls in registry.load_all("methods").items():
        if name != "pixels" and getattr(cls, "demo_config", None):
            found.append(name)
    return found


def _request(name: str, episodes: int, where: dict[str, Any] | None = None) -> Any:
    """The demo's run of `name`; `where`: device, precision, deterministic (default: the CPU in fp32's
    numbers on a machine without a GPU, `auto` otherwise)."""
    from fsbench.evaluation.runner import RunRequest

    cls = registry.get("methods", name)
    return RunRequest(method=name, dataset="omniglot", split="unseen-class", shots=[1, 5], episodes=episodes,
                      seed=0, ways=20, config=dict(getattr(cls, "demo_config", {})), **(where or {}))


def _run_one(name: str, episodes: int, threads: int, where: dict[str, Any] | None = None) -> dict[str, Any]:
    """One method in a worker process: its share of torch threads, quiet bars (the parent shows progress)."""
    from fsbench.evaluation.runner import run

    os.environ["FSBENCH_QUIET"] = "1"
    with torch_threads(threads):
        return run(_request(name, episodes, where), announce=False)


def _slowest_first(methods: list[str]) -> list[str]:
    return sorted(methods, key=lambda m: ORDER.index(m) if m in ORDER else len(ORDER))


def run_demo(methods: list[str] | None = None, episodes: int = 20, out_dir: Path = Path("runs/demo"),
             jobs: int | None = None, where: dict[str, Any] | None = None) -> list[dict]:
    from fsbench.data.hub import resolve_dataset
    from fsbench.device import resolve
    from fsbench.progress import progress_bar

    resolve(**(where or {}))  # a device this machine lacks is refused here, not in every worker
    resolve_dataset("omniglot")  # prepared once here, before the workers read it
    names = _slowest_first(methods or demo_methods())
    prepare_environment()  # the spawned workers inherit OMP_WAIT_POLICY before their torch loads
    jobs = max(1, min(jobs or usable_cores(), len(names)))
    threads = decide_threads(running=jobs)
    console.print(f"[bold]fsbench demo[/bold]: {', '.join(names)} on Omniglot's unseen alphabets "
                  f"(20-way, S=1 and 5, {episodes} episodes each), {jobs} at a time")
    for line in demo_budgets(names):
        console.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    say(demo_plan(names, episodes, jobs))
    done: dict[str, dict] = {}
    with progress_bar() as bar, ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        task = bar.add_task("demo methods", total=len(names), unit="methods")
        futures = {pool.submit(_run_one, n, episodes, threads, where): n for n in names}
        for future in as_completed(futures):
            name = futures[future]
            done[name] = results = future.result()
            write_results(out_dir / f"{name}.json", results)
            bar.console.print(results_table(results))
            bar.advance(task)
    all_results = [done[n] for n in names]
    console.print(comparison_table(all_results, "fsbench demo · Omniglot unseen alphabets · 20-way"))
    page = write_board(all_results, out_dir / BOARD_HTML)
    best = max(all_results, key=lambda r: r["metrics"][shot_key(5)]["top1"]["mean"])["method"]["name"]
    console.print(f"\nopen {page.resolve()}  (the demo's board: sortable, with accuracy-vs-S)", soft_wrap=True)
    console.print("next: figures for the best demo method, the same protocol at full budgets, your own images:")
    for command in (f"fsbench report {out_dir}/{best}.json --out {out_dir}/report",
                    "fsbench leaderboard omniglot__unseen-class-20way",
                    'fsbench prepare folder --raw DIR --name mine --pattern "{label}/{signer}_{*}.jpg"'):
        console.print(f"  {hints(command)}", soft_wrap=True, markup=False, highlight=False)
    return all_results


def write_board(all_results: list[dict], path: Path) -> Path:
    """The demo's results as one ranked board, rendered by the leaderboard's HTML renderer (nothing published)."""
    from fsbench.atomic import write_text
    from fsbench.boards.leaderboard import board_of
    from fsbench.boards.render import board_rows, html_page

    board = board_of(all_results)
    heading = f"fsbench demo · {board['name']} · shortened budgets, not the published board"
    write_text(path, html_page(board, board_rows(board), heading=heading))
    return path


def demo_plan(names: list[str], episodes: int, jobs: int) -> str:
    """The demo's plan line: every method's work, and the estimate with `jobs` running at once."""
    from fsbench.cost import plan_line
    from fsbench.evaluation.runner import work_of

    works = [work_of(_request(n, episodes)) for n in names]
    return plan_line(works, f"{len(works)} methods, {sum(w.episodes for w in works):,} evaluation episodes, "
                            f"{jobs} at a time", parallel=jobs)


def demo_budgets(names: list[str]) -> list[str]:
    """What the demo changes from each method's defaults (its `demo_config`), said before it runs:
    its numbers are below the published board's, and a reader should know why."""
    from fsbench.configs import Config, as_dict, flatten, nest

    lines = []
    for name in names:
        cls = registry.get("methods", name)
        changed = flatten(nest(getattr(cls, "demo_config", {})))
        if not changed:
            continue
        default = cls.make_config()
        default = flatten(as_dict(default) if isinstance(default, Config) else default)
        said = ", ".join(f"{k} {json.dumps(v)} (default {json.dumps(default.get(k))})" for k, v in changed.items())
        backbone = changed.get("backbone.name", changed.get("backbone"))
        if backbone in registry.names("backbones"):
            said += f": it runs on frozen {backbone} features, not the backbone its boards use"
        lines.append(f"{name}: {said}")
    if lines:
        lines.insert(0, "shortened for a demo of minutes, so the numbers are below the published board's "
                        "(fsbench leaderboard omniglot__unseen-class-20way):")
        lines[0] = hints(lines[0])
    return lines
