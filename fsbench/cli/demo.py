"""`fsbench demo`: the whole pipeline on the embedded Omniglot background sets.

Prepares the MIT-licensed Omniglot zips shipped inside the package (no download), then runs a
20-way unseen-class benchmark at S=1 and S=5 for `pixels` and every installed method that
declares a `demo_config`, and prints one comparison table.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from fsbench import registry
from fsbench.evaluation.runner import RunRequest, run
from fsbench.results.document import write_results
from fsbench.results.tables import comparison_table, results_table

console = Console()


def demo_methods() -> list[str]:
    found = ["pixels"]
    for name, cls in registry.load_all("methods").items():
        if name != "pixels" and getattr(cls, "demo_config", None):
            found.append(name)
    return found


def run_demo(methods: list[str] | None = None, episodes: int = 20, out_dir: Path = Path("runs/demo")) -> list[dict]:
    from fsbench.data.hub import resolve_dataset

    data = resolve_dataset("omniglot")
    all_results = []
    for name in methods or demo_methods():
        cls = registry.get("methods", name)
        request = RunRequest(
            method=name, dataset="omniglot", split="unseen-class", shots=[1, 5], episodes=episodes,
            seed=0, ways=20, config=dict(getattr(cls, "demo_config", {})),
        )
        console.print(f"[bold]running {name}[/bold] (20-way unseen-class, S=1,5, {episodes} episodes)")
        results = run(request, data)
        write_results(out_dir / f"{name}.json", results)
        console.print(results_table(results))
        all_results.append(results)
    console.print(comparison_table(all_results, "fsbench demo · Omniglot unseen alphabets · 20-way"))
    console.print(f"results in {out_dir}/ — publish with `fsbench publish {out_dir}/<method>.json`")
    return all_results
