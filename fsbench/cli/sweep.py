"""`fsbench sweep`: many `fsbench run` cells from a sweep file or plural flags, locally or on Ray."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from fsbench.cli.console import device_options, err, hints, known_names, load_config, out, parse_shots

GRID_FLAGS = ("method", "dataset", "split", "shots", "episodes", "seeds", "ways", "cross_condition", "dev",
              "config_path", "overrides", "grid")


@click.command()
@click.argument("sweep_file", required=False, type=click.Path(path_type=Path))
@click.option("--method", "-m", help="Comma-separated methods, e.g. pixels,protonet.")
@click.option("--dataset", "-d", help="Comma-separated datasets (names, folders or hub:owner/repo@rev).")
@click.option("--split", "-s", help="Comma-separated splits.")
@click.option("--shots", help="Support examples per class, e.g. 0,1,4 (one list per cell; default 1,5).")
@click.option("--episodes", type=int, help="Episodes per signer and S (default 10).")
@click.option("--seeds", "--seed", "seeds", help="Comma-separated seeds, one cell each (default 0).")
@click.option("--ways", type=int, help="Classes per episode (default: every test class).")
@click.option("--cross-condition", is_flag=True, help="Support from one recording condition, queries from the others.")
@click.option("--dev", is_flag=True, help="Tune, don't test: the split inside the first fold's training rows.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="JSON/TOML config for every method.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override one config key.")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2", help="A config key to sweep over (one cell per value).")
@click.option("--cpus", type=int, help="CPUs each cell declares; torch threads follow (default 1, or the file's; with --backend local "
                   "give all cores: one cell runs at a time).")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: cells in order in this process; ray: cells as parallel Ray tasks.")
@click.option("--address", help="Join a running Ray cluster (auto or HOST:PORT) instead of starting one here.")
@click.option("--max-retries", default=3, show_default=True, help="Ray retries of a cell whose worker died.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Folder for one results file per cell (default runs/sweep-<file> or runs/sweep).")
@click.option("--dry-run", is_flag=True, help="List the cells and which are done already; run nothing.")
@click.option("--gpus", type=float,
              help="GPUs each cell asks Ray for, fractions allowed (default 1 with --device cuda, else 0).")
@device_options
def sweep(sweep_file: Path | None, cpus: int | None, backend: str, address: str | None, max_retries: int,
          out_dir: Path | None, dry_run: bool, gpus: float | None, device: str | None, precision: str,
          deterministic: bool, **grid: Any) -> None:
    """Run every cell of SWEEP_FILE (TOML, docs/sweeps.md) or of the grid the flags give; a re-run
    computes only the cells whose results file is missing."""
    known_names(grid["method"], grid["split"])  # before the sweep machinery imports torch
    from fsbench.names import output_dir
    from fsbench.sweep.backends import check_local_cpus, make_backend
    from fsbench.sweep.cells import identify, is_done
    from fsbench.sweep.runner import run_sweep
    from fsbench.sweep.spec import SweepError, expand, load_sweep

    given = [k.replace("_path", "").replace("_", "-") for k in GRID_FLAGS if grid[k] not in (None, False, ())]
    if sweep_file is not None:
        if given:
            raise SweepError(f"give a sweep file or grid flags, not both (remove --{', --'.join(given)})")
        header, specs = load_sweep(sweep_file)
        out_dir = out_dir or Path("runs") / f"sweep-{sweep_file.stem}"
    else:
        header, specs = {}, expand({}, _flags_table(**grid), "the command line")
        out_dir = out_dir or Path("runs") / "sweep"
    if cpus is not None:
        if cpus < 1:
            raise SweepError(f"--cpus {cpus} must be ≥ 1")
        specs = [replace(s, cpus=cpus) for s in specs]
    if backend == "local":  # a device this machine lacks fails now, not in every cell (Ray nodes check their own)
        from fsbench.device import resolve

        resolve(device, precision, deterministic)
    specs = [replace(s, device=device, precision=precision, deterministic=deterministic,
                     gpus=cell_gpus(device, gpus, backend)) for s in specs]
    out_dir = output_dir(out_dir)  # before any work: a file or a read-only folder fails now
    chosen = make_backend(backend, address, max_retries)
    if backend == "local":
        check_local_cpus(specs)
    cells = identify(specs, out_dir)
    if dry_run:
        for cell in cells:
            out.print(f"{'done' if is_done(cell) else 'todo'}  {cell.path}", markup=False, highlight=False)
        out.print(f"{len(cells)} cells", markup=False)
        return
    summary = run_sweep(cells, chosen, out_dir, announce=lambda line: out.print(line, markup=False, highlight=False))
    out.print(summary.line(), markup=False, highlight=False)
    failed = summary.of("failed")
    for cell in failed:
        err.print(f"failed: {cell.name}: {summary.errors[cell.key]}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise SweepError(f"{len(failed)} of {len(cells)} cells failed (listed above and in {out_dir}/sweep.json); "
                         "fix them and re-run the same command: finished cells are kept")
    if header.get("board") and sweep_file is not None:  # a board's own file: how to check and publish it
        boards = sweep_file.parent.parent if sweep_file.parent.name == "sweeps" else Path("leaderboards")
        out.print(hints(f"next: fsbench verify {header['board']} --runs {out_dir} --boards {boards}   # every entry against "
                        f"its CI\n      fsbench publish {out_dir} --boards {boards}"), markup=False, highlight=False)


def cell_gpus(device: str | None, gpus: float | None, backend: str) -> float:
    """The GPUs a cell asks Ray for: --gpus, else one for a CUDA device; a local sweep asks for none
    (its cells share this machine's GPU one after another). Checked here, before any work."""
    from fsbench.sweep.spec import SweepError

    if gpus is not None and gpus < 0:
        raise SweepError(f"--gpus {gpus:g} must be ≥ 0 (a fraction shares one GPU between cells)")
    if backend != "ray":
        if gpus:
            raise SweepError("--gpus is what a cell asks Ray for; use it with --backend ray")
        return 0.0
    return float(gpus) if gpus is not None else (1.0 if (device or "").startswith("cuda") else 0.0)


def _flags_table(method, dataset, split, shots, episodes, seeds, ways, cross_condition, dev, config_path,
                 overrides, grid) -> dict[str, Any]:
    """The plural flags as one [[run]] table, so flags and files share every check."""
    from fsbench.sweep.spec import SweepError

    if not (method and dataset and split):
        raise SweepError("give a sweep file, or --method, --dataset and --split (comma-separated lists)")
    table: dict[str, Any] = {
        "methods": _list(method), "datasets": _list(dataset), "splits": _list(split),
        "shots": parse_shots(shots or "1,5"), "cross_condition": cross_condition, "dev": dev,
        "config": load_config(config_path, overrides), "grid": dict(_grid_item(g) for g in grid),
    }
    if episodes is not None:
        table["episodes"] = episodes
    if ways is not None:
        table["ways"] = ways
    if seeds is not None:
        try:
            table["seeds"] = [int(s) for s in _list(seeds)]
        except ValueError:
            raise SweepError(f"--seeds {seeds!r} is not a comma-separated list of integers, e.g. 0,1,2") from None
    return table


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _grid_item(item: str) -> tuple[str, list[Any]]:
    from fsbench.sweep.spec import SweepError

    key, sep, raw = item.partition("=")
    if not sep or not key or not raw:
        raise SweepError(f"--grid {item!r} must look like KEY=V1,V2 (e.g. features=8,12)")

    def value(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            return text

    return key, [value(v) for v in _list(raw)]
