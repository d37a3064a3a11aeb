"""Board entries pooled over seeds: a CI that resamples seeds, signers and episodes; how many seeds a
board's sweep file asks for; and how a board shows the seeds each row pools."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from fsbench.boards import admission
from fsbench.boards.aggregate import over_seeds
from fsbench.boards.leaderboard import make_entry
from fsbench.boards.render import board_rows, markdown, rich_table
from fsbench.errors import ResultsError
from fsbench.evaluation.runner import RunRequest, run
from fsbench.record.integrity import summaries_from_rows
from fsbench.record.stats import bootstrap_ci, seeded_bootstrap_ci
from fsbench.sweep.from_board import board_seeds

ROOT = Path(__file__).resolve().parents[1]


def part(acc: float, rng: np.random.Generator, signers: int = 4, episodes: int = 10, queries: int = 30):
    """(hits, episode, signer) of one seed whose accuracy is about `acc`."""
    n = signers * episodes * queries
    hits = (rng.random(n) < acc + rng.normal(0, 0.03, signers * episodes).repeat(queries)).astype(float)
    return hits, np.tile(np.arange(episodes).repeat(queries), signers), np.arange(signers).repeat(episodes * queries)


def width(ci: tuple[float, float]) -> float:
    return ci[1] - ci[0]


def test_one_seed_gives_exactly_the_episode_ci():
    rng = np.random.default_rng(1)
    for seed in range(5):
        hits, episode, signer = part(0.6, rng)
        assert seeded_bootstrap_ci([(hits, episode, signer)], seed) == bootstrap_ci(hits, episode, signer, seed)


def test_more_spread_between_seeds_widens_the_ci():
    rng = np.random.default_rng(2)
    alike = [part(0.70, rng) for _ in range(3)]
    apart = [part(a, rng) for a in (0.55, 0.70, 0.85)]
    pooled_episodes = [np.concatenate(x) for x in zip(*apart)]
    pooled_episodes[1] = pooled_episodes[1] + np.repeat([0, 100, 200], len(apart[0][0]))  # distinct episodes
    assert width(seeded_bootstrap_ci(apart, 0)) > 2 * width(seeded_bootstrap_ci(alike, 0))
    # the old way, every episode of every seed one draw, hides the spread between seeds
    assert width(seeded_bootstrap_ci(apart, 0)) > 2 * width(bootstrap_ci(*pooled_episodes, 0))
    lo, hi = seeded_bootstrap_ci(apart, 0)
    assert lo < 0.6 and hi > 0.8


@pytest.fixture(scope="module")
def tiny_results(tiny) -> dict:
    req = RunRequest(method="pixels", dataset="tiny", split="leave-signer-out", shots=[1, 2], episodes=4,
                     config={"size": 16})
    return run(req, tiny)


def seed_doc(results: dict, seed: int, level: float) -> dict:
    """The same run under `seed`, its per-episode top-1 ≈ `level`, summaries recomputed from the rows."""
    r = copy.deepcopy(results)
    r["protocol"]["seed"] = seed
    for i, row in enumerate(r["episodes"]):
        n = row["n_query"]
        row["top1_correct"] = round(min(1.0, max(0.0, level + (0.05 if i % 2 else -0.05))) * n)
        row["top2_correct"] = max(row["top2_correct"], row["top1_correct"])
    for key, summary in summaries_from_rows(r).items():
        r["metrics"][key]["top1"], r["metrics"][key]["top2"] = summary["top1"], summary["top2"]
    return r


def pooled(docs: list[dict]) -> dict:
    return over_seeds(make_entry(docs[0]), docs, [f"seed{d['protocol']['seed']}" for d in docs])


def test_an_entry_of_one_seed_keeps_its_files_ci_and_seed_spread_widens_a_pooled_one(tiny_results):
    one = pooled([tiny_results])
    for key, m in one["metrics"].items():
        assert m["top1"]["ci95"] == tiny_results["metrics"][key]["top1"]["ci95"]
    alike = pooled([seed_doc(tiny_results, s, 0.6) for s in (0, 1, 2)])
    apart = pooled([seed_doc(tiny_results, s, lvl) for s, lvl in ((0, 0.4), (1, 0.6), (2, 0.8))])
    for key in apart["metrics"]:
        a, b = alike["metrics"][key]["top1"], apart["metrics"][key]["top1"]
        assert b["seeds"]["std"] > 0.15 and a["seeds"]["std"] == 0
        assert width(b["ci95"]) > width(a["ci95"])
        assert b["ci95"][0] <= b["mean"] <= b["ci95"][1]


def test_fewer_seeds_do_not_replace_a_pooled_entry(tiny_results):
    three = pooled([seed_doc(tiny_results, s, 0.6) for s in (0, 1, 2)])
    with pytest.raises(ResultsError, match="1 seed instead of 3"):
        admission.check_replacement(three, make_entry(tiny_results), "r.json")
    admission.check_replacement(make_entry(tiny_results), three, "r.json")  # more seeds: fine


def entry(seeds: list[int] | None, trains: bool | None) -> dict:
    method = {"name": "m"} if trains is None else {"name": "m", "trains": trains}
    return {"method": method, "manifest": {"seed": (seeds or [0])[0]}, **({"seeds": seeds} if seeds else {})}


@pytest.mark.parametrize("seeds, trains, want", [
    (None, True, [0, 1, 2]), (None, None, [0, 1, 2]), ([4], True, [0, 1, 4]), ([0, 1, 2, 3], True, [0, 1, 2, 3]),
    ([1, 2], True, [0, 1, 2]), (None, False, [0]), ([0, 1], False, [0, 1]),
])
def test_a_trained_methods_sweep_run_asks_for_three_seeds(seeds, trains, want):
    assert board_seeds(entry(seeds, trains)) == want


def test_the_board_shows_how_many_seeds_each_row_pools_and_why_one():
    board = json.loads((ROOT / "leaderboards" / "retired" / "massey__leave-signer-out.json").read_text())
    protonet = next(e for e in board["entries"] if e["method"]["name"] == "protonet")
    protonet["seeds"] = [0, 1, 2]
    for m in protonet["metrics"].values():
        m["top1"]["seeds"] = {"n": 3, "mean": m["top1"]["mean"], "std": 0.05, "min": 0, "max": 1, "values": {}}
    rows = board_rows(board)
    text = markdown(board, rows)
    line = {r["method"]: next(ln for ln in text.splitlines() if f"| {r['rank']} | " in ln) for r in rows}
    assert "| 3 |" in line["protonet"] and " ±5.0 [" in line["protonet"]
    assert "| 1 (trains nothing) |" in line["pixels"] and "| 1 (trains nothing) |" in line["mediapipe-geometric"]
    assert "| 1 (not pooled: CI covers episodes only) |" in line["finetune"]
    assert "CI resamples seeds, then signers, then episodes" in text.splitlines()[0]
    console = Console(width=250, file=io.StringIO())
    console.print(rich_table(board, rows))
    shown = console.file.getvalue()
    assert "1°" in shown and "1*" in shown and "° trains nothing" in shown
