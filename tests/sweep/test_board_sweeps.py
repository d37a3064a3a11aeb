"""Every committed board has a sweep file that expands into exactly its entries' runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fsbench.api import canonical_hash
from fsbench.configs import flatten
from fsbench.evaluation.runner import make_method
from fsbench.sweep.from_board import board_sweep, without_nulls
from fsbench.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[2]
BOARDS = sorted((ROOT / "leaderboards").glob("*.json"))


def entry_run(board: dict, entry: dict) -> tuple:
    """What regenerates an entry: its run under seeds 0, 1, 2 (and any other it pools) for a method
    that trains, under its own seed for one that trains nothing. TOML has no null, so a sweep file
    leaves None-valued keys to the method's default (checked below to be None)."""
    config = without_nulls(entry["method"]["config"])
    seeds = set(entry.get("seeds") or [entry["manifest"]["seed"]])
    return [(entry["method"]["name"], board["dataset"]["name"], board["split"]["name"], seed,
             tuple(sorted(int(k[2:]) for k in entry["metrics"])), entry["manifest"]["episodes"],
             board["protocol"]["ways"], board["protocol"]["cross_condition"], False, canonical_hash(config))
            for seed in sorted(seeds if entry["method"]["trains"] is False else seeds | {0, 1, 2})]


@pytest.mark.parametrize("board_path", BOARDS, ids=lambda p: p.stem)
def test_every_entry_says_whether_its_method_trains(board_path):
    """The sweep file's seeds follow it (three for a method that trains); it must be the method's own."""
    for entry in json.loads(board_path.read_text())["entries"]:
        method = make_method(entry["method"]["name"], {})
        assert entry["method"]["trains"] is method.trains, entry["method"]["name"]


def test_every_board_has_a_sweep_file():
    assert BOARDS
    missing = [b.stem for b in BOARDS if not (ROOT / "leaderboards" / "sweeps" / f"{b.stem}.toml").exists()]
    assert not missing


@pytest.mark.parametrize("board_path", BOARDS, ids=lambda p: p.stem)
def test_the_sweep_file_is_the_one_publish_writes(board_path):
    """`fsbench publish` and `fsbench withdraw` rewrite it; a hand edit of either file shows here."""
    board = json.loads(board_path.read_text())
    assert (ROOT / "leaderboards" / "sweeps" / f"{board_path.stem}.toml").read_text() == board_sweep(board)


@pytest.mark.parametrize("board_path", BOARDS, ids=lambda p: p.stem)
def test_the_sweep_file_expands_into_exactly_the_boards_entries(board_path):
    board = json.loads(board_path.read_text())
    header, cells = load_sweep(ROOT / "leaderboards" / "sweeps" / f"{board_path.stem}.toml")
    assert header["board"] == board["name"]
    got = sorted((c.method, c.dataset, c.split, c.seed, c.shots, c.episodes, c.ways, c.cross_condition, c.dev,
                  canonical_hash(c.config)) for c in cells)
    assert got == sorted(run for e in board["entries"] for run in entry_run(board, e))
    entries = {(e["method"]["name"], canonical_hash(without_nulls(e["method"]["config"]))): e for e in board["entries"]}
    for cell in cells:
        entry = entries[(cell.method, canonical_hash(cell.config))]
        method = make_method(cell.method, cell.config)  # today's code still takes the entry's config
        nulls = {k for k, v in flatten(entry["method"]["config"]).items() if v is None}
        assert all(flatten(method.config_dict())[k] is None for k in nulls)
        assert method.config_hash == entry["method"]["config_hash"]  # the cell reruns the entry's config
