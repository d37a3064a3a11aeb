"""The demo's last steps: its results become one ranked in-memory board and a self-contained HTML
page (the full demo is timed by bench/demo_time.py, not here)."""

from __future__ import annotations

import stat

from fsbench.cli.demo import _slowest_first, write_board
from fsbench.evaluation.runner import RunRequest, run


def test_demo_board_ranks_every_method_and_writes_one_page(tiny, tiny_dir, tmp_path):
    results = [run(RunRequest("pixels", str(tiny_dir), "leave-signer-out", [1, 2], 2, 0, config={"classifier": c}), tiny)
               for c in ("prototype", "max")]
    page = write_board(results, tmp_path / "board.html")
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html") or text.lstrip().lower().startswith("<!doctype html")
    assert text.count('data-method="pixels"') == 2 and "<script" in text and "data:image/png;base64," in text
    assert stat.S_IMODE(page.stat().st_mode) & 0o044  # readable by others (umask), not mkstemp's 0600


def test_the_longest_training_starts_first():
    assert _slowest_first(["pixels", "protonet", "hand2vec", "finetune"]) == ["hand2vec", "finetune", "protonet", "pixels"]


def test_demo_page_is_titled_as_a_demo(tiny, tiny_dir, tmp_path):
    results = [run(RunRequest("pixels", str(tiny_dir), "leave-signer-out", [1], 2, 0), tiny)]
    text = write_board(results, tmp_path / "board.html").read_text()
    assert "<h1>fsbench demo · " in text and "not the published board" in text and "fsbench leaderboard ·" not in text


def test_demo_says_what_it_shortens_before_it_runs():
    from fsbench.cli.demo import demo_budgets

    lines = demo_budgets(["pixels", "protonet", "hand2vec"])
    assert "below the published board" in lines[0]
    assert any(line.startswith("protonet: episodes 100 (default 1000)") for line in lines), lines
    assert any(line.startswith("hand2vec: backbone") and "frozen" in line for line in lines), lines


def test_tables_rank_and_drop_columns_that_say_nothing(tiny, tiny_dir):
    from rich.console import Console

    from fsbench.boards.tables import comparison_table, results_table

    results = [run(RunRequest("pixels", str(tiny_dir), "leave-signer-out", [1], 2, 0, config={"classifier": c}), tiny)
               for c in ("max", "prototype")]
    results[0]["method"]["name"], results[1]["method"]["name"] = "first-run", "second-run"
    for r, mean in zip(results, (0.2, 0.9)):
        r["metrics"]["S=1"]["top1"]["mean"] = mean
    console = Console(width=200, record=True)
    console.print(comparison_table(results, "demo"))
    text = console.export_text()
    assert text.index("second-run") < text.index("first-run") and "ranked by top-1 at S=1" in text
    one_group = results[0] | {"metrics": {k: v | {"per_signer": {"all": v["top1"]}} for k, v in results[0]["metrics"].items()}}
    console.print(results_table(one_group))
    assert "signer all" not in console.export_text()
    named = results[0] | {"metrics": {k: v | {"per_signer": {"signer1": v["top1"] | {"top1": .5}, "signer2": v["top1"] | {"top1": .5}}}
                                      for k, v in results[0]["metrics"].items()}}
    console.print(results_table(named))
    text = console.export_text()
    assert "signer1" in text and "signer signer1" not in text
