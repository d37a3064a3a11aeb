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
