"""The sweep file (TOML) and the plural command line → cell specs, checked before anything runs.

Keys at the top level of a sweep file are defaults; each `[[run]]` table is a group of cells that
overrides them (a file without `[[run]]` is one group). Axes take one value or a list: `method(s)`,
`dataset(s)`, `split(s)`, `seed(s)`, and `grid`, a table of config keys (dotted, `"head.epochs"`,
or nested tables) each with a list of values.
Everything else is one value per cell, as in `fsbench run`: `shots`, `episodes`, `ways`,
`cross_condition`, `dev`, `config` (merged over the top level's) and `cpus` (CPUs the cell
declares; its torch threads follow them). A bad file fails whole, in one line, before any cell runs.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsbench import registry
from fsbench.configs import ConfigError, flatten, merge, nest
from fsbench.errors import FsbenchError
from fsbench.names import read_input_text
from fsbench.evaluation.runner import RunRequest
from fsbench.limits import MAX_CELLS, MAX_EPISODES, MAX_SEED

AXES = {"method": "methods", "dataset": "datasets", "split": "splits", "seed": "seeds"}
SCALARS = ("shots", "episodes", "ways", "cross_condition", "dev", "cpus")
TABLES = ("config", "grid")
TOP_ONLY = ("board", "description", "run")
RUN_KEYS = (*AXES, *AXES.values(), *SCALARS, *TABLES)
DEFAULTS: dict[str, Any] = {"shots": [1, 5], "episodes": 10, "seeds": [0], "cross_condition": False,
                            "dev": False, "cpus": 1}


class SweepError(FsbenchError):
    """A sweep file, sweep flag or sweep outcome that needs the user's attention."""


@dataclass(frozen=True)
class CellSpec:
    """One `fsbench run`: what it computes (everything but `cpus`) and what it may use."""

    method: str
    dataset: str
    split: str
    seed: int
    shots: tuple[int, ...]
    episodes: int
    ways: int | None = None
    cross_condition: bool = False
    dev: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    cpus: int = 1
    # where the cell computes (resolved on the node that runs it) and the GPUs it asks Ray for
    device: str | None = None
    precision: str = "fp32"
    deterministic: bool = False
    gpus: float = 0.0

    def request(self) -> RunRequest:
        """The request `fsbench run` would build from the same flags."""
        return RunRequest(method=self.method, dataset=self.dataset, split=self.split, shots=list(self.shots),
                          episodes=self.episodes, seed=self.seed, ways=self.ways,
                          cross_condition=self.cross_condition, config=dict(self.config), dev=self.dev,
                          device=self.device, precision=self.precision, deterministic=self.deterministic)

    def what(self) -> tuple:
        """Everything that decides the numbers (not `cpus`; the placement is the sweep's): equal ⇒ the same cell."""
        return (self.method, self.dataset, self.split, self.seed, self.shots, self.episodes, self.ways,
                self.cross_condition, self.dev, json.dumps(self.config, sort_keys=True, default=repr))


def load_sweep(path: Path | str) -> tuple[dict[str, Any], list[CellSpec]]:
    """(top-level header: board, description; cells) of a sweep file."""
    path = Path(path)
    try:
        doc = tomllib.loads(read_input_text(path, "sweep file", limit=2**24))
    except FileNotFoundError:
        raise SweepError(f"sweep file {path} does not exist; write one (docs/sweeps.md) or give the grid as flags") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"sweep file {path} cannot be read ({exc})") from None
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: an integer past Python's 4300 digits
        raise SweepError(f"sweep file {path} is not valid TOML ({exc}); fix it and re-run") from None
    unknown = sorted(set(doc) - set(RUN_KEYS) - set(TOP_ONLY))
    if unknown:
        raise SweepError(f"sweep file {path} has unknown key(s) {unknown}; known keys: {sorted(RUN_KEYS + TOP_ONLY)}")
    runs = doc.get("run", [{}])
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise SweepError(f"sweep file {path}: `run` must be [[run]] tables, one per group of cells")
    defaults = {k: v for k, v in doc.items() if k in RUN_KEYS}
    header = {k: doc[k] for k in ("board", "description") if k in doc}
    cells = []
    for i, run in enumerate(runs, start=1):
        cells += expand(defaults, run, f"{path} [[run]] #{i}" if "run" in doc else str(path))
        check_cells(len(cells), str(path), f"after [[run]] #{i}")
    check_unique(cells, str(path))
    return header, cells


def expand(defaults: dict[str, Any], run: dict[str, Any], where: str) -> list[CellSpec]:
    """The cells of one group: methods × datasets × splits × config grid × seeds, in that order."""
    unknown = sorted(set(run) - set(RUN_KEYS))
    if unknown:
        raise SweepError(f"{where} has unknown key(s) {unknown}; known keys: {sorted(RUN_KEYS)}")
    try:
        config = merge(nest(_table(defaults, "config", where)), nest(_table(run, "config", where)))
        grid = {**flatten(_table(defaults, "grid", where)), **flatten(_table(run, "grid", where))}
    except ConfigError as exc:
        raise SweepError(f"{where}: {exc}") from None
    merged = {**DEFAULTS, **_axes_plural(defaults, where), **_axes_plural(run, where),
              **{k: run.get(k, defaults.get(k, DEFAULTS.get(k))) for k in SCALARS}}
    for key in ("methods", "datasets", "splits"):
        if key not in merged:
            raise SweepError(f"{where} names no {key[:-1]}; add `{key[:-1]} = \"...\"` (or a list `{key} = [...]`)")
        merged[key] = [_text(v, key[:-1], where) for v in merged[key]]
    seeds = [_int(v, "seed", where, low=0, high=MAX_SEED) for v in merged["seeds"]]
    shots = merged["shots"] if isinstance(merged["shots"], list) else [merged["shots"]]
    shots = tuple(sorted({_int(v, "shots", where, low=0) for v in shots}))
    if not shots:
        raise SweepError(f"{where}: shots is empty; give e.g. shots = [1, 5]")
    episodes = _int(merged["episodes"], "episodes", where, low=1, high=MAX_EPISODES)
    ways = None if merged["ways"] in (None, 0) else _int(merged["ways"], "ways", where, low=2)
    cpus = _int(merged["cpus"], "cpus", where, low=1)
    flags = {k: _bool(merged[k], k, where) for k in ("cross_condition", "dev")}
    for key, values in grid.items():
        if key in flatten(config):
            raise SweepError(f"{where}: config key {key!r} is both in `config` and in `grid`; keep one")
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: grid.{key} must be a non-empty list of values, e.g. [8, 12]")
    axes = {"methods": len(merged["methods"]), "datasets": len(merged["datasets"]), "splits": len(merged["splits"]),
            **{f"grid.{k}": len(v) for k, v in grid.items()}, "seeds": len(seeds)}
    check_cells(math.prod(axes.values()), where, " × ".join(f"{n} {k}" for k, n in axes.items()))
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    return [
        CellSpec(method=m, dataset=_absolute(d), split=s, seed=seed, shots=shots, episodes=episodes, ways=ways,
                 config=merge(config, nest(combo)), cpus=cpus, **flags)
        for m in merged["methods"] for d in merged["datasets"] for s in merged["splits"]
        for combo in combos for seed in seeds
    ]


def check_cells(n: int, where: str, how: str = "") -> None:
    """Refuse a sweep of more than `MAX_CELLS` cells before a single one is built."""
    if n > MAX_CELLS:
        raise SweepError(f"{where}: {n:,} cells{f' ({how})' if how else ''}; a sweep runs at most {MAX_CELLS:,}: "
                         "split it into several sweep files or shorten the lists")


def check_unique(cells: list[CellSpec], where: str) -> None:
    seen: dict[tuple, int] = {}
    for i, cell in enumerate(cells):
        if (j := seen.setdefault(cell.what(), i)) != i:
            raise SweepError(f"{where}: cells {j + 1} and {i + 1} are the same run ({cell.method} on {cell.dataset}/"
                             f"{cell.split}, seed {cell.seed}); remove one")


def _axes_plural(table: dict[str, Any], where: str) -> dict[str, list]:
    out = {}
    for one, many in AXES.items():
        if one in table and many in table:
            raise SweepError(f"{where} gives both `{one}` and `{many}`; keep one")
        if one in table:
            out[many] = [table[one]]
        elif many in table:
            values = table[many]
            if not isinstance(values, list) or not values:
                raise SweepError(f"{where}: `{many}` must be a non-empty list, e.g. {many} = [...]")
            out[many] = values
    return out


def _table(table: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise SweepError(f"{where}: `{key}` must be a table, e.g. {key} = {{ lr = 0.01 }}")
    return value


def _text(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SweepError(f"{where}: {what} {value!r} must be a non-empty name")
    return value.strip()


def _int(value: Any, what: str, where: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        raise SweepError(f"{where}: {what} {value!r} must be an integer ≥ {low}" + (f" and ≤ {high}" if high else ""))
    return value


def _bool(value: Any, what: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise SweepError(f"{where}: {what} {value!r} must be true or false")
    return value


def _absolute(dataset: str) -> str:
    """A dataset folder as an absolute path, so cells on other processes and nodes find it."""
    if dataset.startswith("hub:") or dataset in registry.names("datasets"):
        return dataset
    path = Path(dataset).expanduser()
    if path.is_dir() or os.sep in dataset or dataset.startswith("."):
        return str(path.resolve())
    return dataset
