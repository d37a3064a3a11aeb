"""A board → the sweep file that regenerates it, one `[[run]]` per entry.

`fsbench publish` rewrites it beside the board (`<boards>/sweeps/<board>.toml`) in the same
locked step, so a published table is always one `fsbench sweep` away and the two cannot drift.
TOML has no null: config keys whose value is None are left out, i.e. to the method's default; a
null inside a list or table has no TOML form, and `board_sweep` refuses it in one line (so publish
refuses the entry before writing anything). Strings are escaped for TOML (`toml_string`), comments
for a comment line.
A trained method's `[[run]]` lists at least `TRAINED_SEEDS` seeds (its entry's, topped up with the
smallest unused), so the next regeneration pools them; a method that trains nothing (the entry's
`method.trains` is false) keeps its entry's seeds, since its seed only redraws episodes.
Sections of a typed config are written as dotted keys (`head.epochs = 30`), one value a line.
Values are written inline (`shots = [0, 1, 2, 4]`), which tomli-w does not do, so the file reads
like the hand-written ones in docs/sweeps.md; tests read every file back with `tomllib`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fsbench.errors import ResultsError
from fsbench.configs import flatten
from fsbench.record.shots import shots_of
from fsbench.record.text import comment_safe, toml_string

#: seeds a trained method's board entry pools: training luck is part of what a row measures
TRAINED_SEEDS = 3

HEADER = """\
# The sweep behind {boards}/{name}.json, written by `fsbench publish`: one [[run]] per entry
# (method, its full config, shots, episodes, seeds). Regenerate the board with
#   fsbench sweep {boards}/sweeps/{name}.toml --backend ray     # or the default local backend
#   fsbench publish runs/sweep-{name} --boards {boards}
"""


def sweep_path(board_path: Path) -> Path:
    """Where a board's sweep file lives."""
    return board_path.parent / "sweeps" / f"{board_path.stem}.toml"


def board_sweep(board: dict[str, Any], boards: str = "leaderboards") -> str:
    """The sweep file (TOML text) whose cells are exactly `board`'s entries."""
    doc: dict[str, Any] = {"board": board["name"], "dataset": board["dataset"]["name"],
                           "split": board["split"]["name"]}
    if board["protocol"].get("ways") is not None:
        doc["ways"] = board["protocol"]["ways"]
    if board["protocol"].get("cross_condition"):
        doc["cross_condition"] = True
    lines = [HEADER.format(boards=comment_safe(boards), name=comment_safe(board["name"])).rstrip("\n"), *assignments(doc)]
    for entry in board["entries"]:
        run = {**run_of(entry), "seeds": board_seeds(entry)}
        config = run.pop("config")
        try:
            lines += ["", "[[run]]", *assignments(run), "[run.config]", *assignments(flatten(config))]
        except TypeError as exc:
            m = entry["method"]
            raise ResultsError(
                f"{comment_safe(str(m['name']))}@{str(m['config_hash'])[:8]} on {board['name']}: {exc}, so the board's "
                "sweep file cannot regenerate it; nothing was published: use a config without null inside lists or tables"
            ) from None
    return "\n".join(lines) + "\n"


def board_seeds(entry: dict[str, Any]) -> list[int]:
    """The seeds the entry's `[[run]]` asks for: a trained method's (or one that does not say)
    at least `TRAINED_SEEDS`, the entry's own seeds first; a training-free method's as they are."""
    seeds = list(entry.get("seeds") or [entry["manifest"]["seed"]])
    if entry["method"].get("trains") is False:
        return seeds
    spare = (s for s in range(len(seeds) + TRAINED_SEEDS) if s not in seeds)
    return sorted(seeds + [next(spare) for _ in range(TRAINED_SEEDS - len(seeds))])


def run_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The `[[run]]` table that produced one entry (every seed it pools; `fsbench verify --runs`
    finds exactly these cells)."""
    return {
        "method": entry["method"]["name"],
        "seeds": list(entry.get("seeds") or [entry["manifest"]["seed"]]),
        "shots": shots_of(entry["metrics"]),
        "episodes": entry["manifest"]["episodes"],
        "config": without_nulls(entry["method"]["config"]),
    }


def without_nulls(config: dict[str, Any]) -> dict[str, Any]:
    """`config` without its None values, in sections too (TOML has no null; None is their default)."""
    return {k: without_nulls(v) if isinstance(v, dict) else v for k, v in config.items() if v is not None}


def entry_cells(board: dict[str, Any], entry: dict[str, Any], out_dir: Path, dataset: str | None = None) -> list:
    """The cells (one per seed) of `entry`'s `[[run]]`, named as `fsbench sweep --out out_dir` names
    them: where a sweep of the board's file left the results that regenerate this entry."""
    from fsbench.sweep.cells import identify
    from fsbench.sweep.spec import CellSpec

    run, proto = run_of(entry), board["protocol"]
    specs = [CellSpec(method=run["method"], dataset=dataset or board["dataset"]["name"], split=board["split"]["name"],
                      seed=seed, shots=tuple(run["shots"]), episodes=run["episodes"], ways=proto.get("ways") or None,
                      cross_condition=bool(proto.get("cross_condition")), config=run["config"])
             for seed in run["seeds"]]
    return identify(specs, out_dir)


def assignments(table: dict[str, Any]) -> list[str]:
    """`key = value` lines of a table of scalars, lists and inline tables (TypeError names the key);
    keys of nested sections are dotted (`head.epochs`)."""
    lines = []
    for k, v in table.items():
        try:
            lines.append(f"{key_of(k, dotted=True)} = {value_of(v)}")
        except TypeError as exc:
            raise TypeError(f"{str(k)[:40]!r} = {json.dumps(v)[:80]}: {exc}") from None
    return lines


def key_of(key: str, dotted: bool = False) -> str:
    """A bare key, (`dotted`) a dotted key of bare parts (`head.epochs`), or a quoted one."""
    if all(re.fullmatch(r"[A-Za-z0-9_-]+", part) for part in (key.split(".") if dotted else [key])):
        return key
    return toml_string(key)


def value_of(value: Any) -> str:
    """One TOML value. JSON's integers, finite floats and booleans are TOML's too (a board holds no
    NaN or infinity: `read_board` and `publish` refuse them); strings go through `toml_string`."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key_of(k)} = {value_of(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_of(v) for v in value) + "]"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (int, float, bool)):
        return json.dumps(value)
    raise TypeError(f"config value {value!r} has no TOML form (TOML has no null)")
