"""Publishing and showing leaderboards: refusals, replacement, atomicity, and the HTML page in Chromium."""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from fsbench.api import canonical_hash
from fsbench.boards import leaderboard as lb
from fsbench.errors import ResultsError
from fsbench.evaluation.runner import RunRequest, make_method, run
from fsbench.record.integrity import summaries_from_rows
from fsbench.boards import render
from fsbench.boards.render import board_rows
from fsbench.testing import named_pixels


@pytest.fixture(scope="module", autouse=True)
def variants():
    """The methods `_variant` names, installed (publish recomputes every config hash)."""
    with named_pixels(["worse", "better", "other", "new", "close", "far", "alpha", "zeta"]):
        yield


@pytest.fixture(scope="module")
def tiny_results(tiny) -> dict:
    """A real results document: pixels on the tiny dataset, leave-signer-out, S=1,2."""
    req = RunRequest(method="pixels", dataset="tiny", split="leave-signer-out", shots=[1, 2], episodes=3,
                     config={"size": 16})
    return run(req, tiny)


def _write(tmp_path: Path, results: dict, name: str = "r.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(results))
    return path


def _variant(results: dict, name: str, level: float) -> dict:
    """Another 'method': same protocol, its own identity, per-episode top-1 ≈ `level` ± 0.15 at every
    S, and summaries recomputed from those rows (publish refuses numbers the rows do not give)."""
    r = copy.deepcopy(results)
    method = make_method(name, r["method"]["config"])
    r["method"].update(name=name, config_hash=method.config_hash, distribution=method.distribution)
    for i, row in enumerate(r["episodes"]):
        n = row["n_query"]
        acc = min(1.0, max(0.0, level + (0.15 if i % 2 else -0.15)))
        row["top1_correct"] = round(acc * n)
        row["top2_correct"] = min(n, row["top1_correct"] + round(0.05 * n))
    for key, summary in summaries_from_rows(r).items():
        _merge(r["metrics"][key], summary)
    return r


def _merge(into: dict, new: dict) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def test_publish_creates_board_with_manifest(tmp_path, tiny_results):
    board_path = lb.publish(_write(tmp_path, tiny_results), tmp_path / "boards")
    assert board_path.name == "tiny__leave-signer-out.json"
    board = lb.read_board(board_path)
    (entry,) = board["entries"]
    man = entry["manifest"]
    assert man["dataset_content_hash"] == tiny_results["dataset"]["content_hash"]
    assert man["split_manifest_sha256"] == tiny_results["split"]["manifest_sha256"]
    assert set(man["episodes_sha256"]) == {"S=1", "S=2"}
    assert man["git_commit"] == tiny_results["fsbench"]["git_commit"]
    assert entry["metrics"]["S=2"]["top1"] == tiny_results["metrics"]["S=2"]["top1"]
    assert lb.main_shots(board) == 2


def test_board_names_for_cross_condition_and_ways(tiny_results):
    r = copy.deepcopy(tiny_results)
    r["protocol"]["cross_condition"], r["protocol"]["ways"] = True, 3
    assert lb.board_name(r) == "tiny__leave-signer-out-xc-3way"


def test_replaces_same_method_and_config_and_ranks(tmp_path, tiny_results):
    boards = tmp_path / "boards"
    lb.publish(_write(tmp_path, _variant(tiny_results, "pixels", 0.5)), boards)
    worse = _variant(tiny_results, "worse", 0.2)
    better = _variant(tiny_results, "better", 0.8)
    lb.publish(_write(tmp_path, worse, "w.json"), boards)
    path = lb.publish(_write(tmp_path, better, "b.json"), boards)
    lb.publish(_write(tmp_path, better, "b.json"), boards)  # same method+config: replaced, not added
    board = lb.read_board(path)
    assert [e["method"]["name"] for e in board["entries"]] == ["better", "pixels", "worse"]
    rows = board_rows(board)
    assert rows[0]["rank"] == 1 and rows[0]["method"] == "better"


def test_publish_and_withdraw_keep_the_sweep_file_in_step(tmp_path, tiny_results):
    from fsbench.sweep.spec import load_sweep

    boards = tmp_path / "boards"
    lb.publish(_write(tmp_path, tiny_results), boards)
    for name, level in (("worse", 0.2), ("better", 0.8)):
        path = lb.publish(_write(tmp_path, _variant(tiny_results, name, level), f"{name}.json"), boards)
    sweep = boards / "sweeps" / "tiny__leave-signer-out.toml"
    header, cells = load_sweep(sweep)
    assert header["board"] == "tiny__leave-signer-out"
    assert sorted(c.method for c in cells) == ["better", "pixels", "worse"]
    assert {(c.shots, c.episodes, c.seed, c.config["size"]) for c in cells} == {((1, 2), 3, 0, 16)}

    gone = lb.withdraw("tiny__leave-signer-out/worse", boards)
    assert gone["method"]["name"] == "worse"
    assert sorted(e["method"]["name"] for e in lb.read_board(path)["entries"]) == ["better", "pixels"]
    assert sorted(c.method for c in load_sweep(sweep)[1]) == ["better", "pixels"]
    with pytest.raises(ResultsError, match="has no entry for 'tiny__leave-signer-out/worse'"):
        lb.withdraw("tiny__leave-signer-out/worse", boards)
    with pytest.raises(ResultsError, match="no entry for 'tiny__leave-signer-out/pixels@0000'"):
        lb.withdraw("tiny__leave-signer-out/pixels@0000", boards)


def test_refuses_schema_invalid_and_corrupt_results(tmp_path, tiny_results):
    bad = copy.deepcopy(tiny_results)
    del bad["metrics"]
    with pytest.raises(ResultsError, match="not valid fsbench results"):
        lb.publish(_write(tmp_path, bad), tmp_path / "boards")
    corrupt = tmp_path / "c.json"
    corrupt.write_text('{"schema_version": 1, "metr')
    with pytest.raises(ResultsError, match="not valid JSON"):
        lb.publish(corrupt, tmp_path / "boards")
    assert not (tmp_path / "boards").exists() or not list((tmp_path / "boards").iterdir())


def test_refuses_incomplete_manifest(tmp_path, tiny_results):
    r = copy.deepcopy(tiny_results)
    r["fsbench"]["git_commit"] = "unknown"
    del r["protocol"]["episodes_sha256"]["S=2"]
    with pytest.raises(ResultsError, match=r"incomplete manifest.*git_commit.*episodes_sha256\[S=2\]") as exc:
        lb.publish(_write(tmp_path, r), tmp_path / "boards")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("field,match", [
    (("dataset", "content_hash"), "dataset content hash"),
    (("split", "manifest_sha256"), "split manifest hash"),
])
def test_refuses_hash_mismatch(tmp_path, tiny_results, field, match):
    boards = tmp_path / "boards"
    path = lb.publish(_write(tmp_path, tiny_results), boards)
    before = path.read_bytes()
    other = _variant(tiny_results, "other", 0.5)
    other[field[0]][field[1]] = "f" * 64
    if field[0] == "split":  # other folds, hashed as `split_manifest` hashes them: only the board can tell
        split = other["split"]
        split["folds"][0]["n_train"] += 1
        split["manifest_sha256"] = canonical_hash({"split": split["name"], "seed": split["seed"], "folds": split["folds"]})
    with pytest.raises(ResultsError, match=match) as exc:
        lb.publish(_write(tmp_path, other, "o.json"), boards)
    assert "\n" not in str(exc.value) and "tiny__leave-signer-out" in str(exc.value)
    assert path.read_bytes() == before


def test_corrupt_board_is_one_line_error(tmp_path, tiny_results):
    boards = tmp_path / "boards"
    path = lb.publish(_write(tmp_path, tiny_results), boards)
    path.write_text(path.read_text()[:100])
    with pytest.raises(ResultsError, match="is corrupt") as exc:
        lb.publish(_write(tmp_path, tiny_results), boards)
    assert "\n" not in str(exc.value)
    path.write_text(json.dumps({"board_version": 1, "entries": "nope"}))
    with pytest.raises(ResultsError, match="not a valid fsbench board"):
        render.show("tiny__leave-signer-out", boards, "rich", None, Console(file=io.StringIO()))
    listing = render.list_boards(boards)
    assert "error" in listing[0]


def test_failure_mid_write_leaves_board_unchanged(tmp_path, tiny_results, monkeypatch):
    boards = tmp_path / "boards"
    path = lb.publish(_write(tmp_path, tiny_results), boards)
    before = path.read_bytes()

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        lb.publish(_write(tmp_path, _variant(tiny_results, "new", 0.5), "n.json"), boards)
    assert path.read_bytes() == before
    assert sorted(p.relative_to(boards).as_posix() for p in boards.rglob("*") if p.is_file() and p.suffix != ".lock") == [
        f"sweeps/{path.stem}.toml", path.name]  # no temp file left


def test_show_formats_and_overlap_markers(tmp_path, tiny_results):
    boards = tmp_path / "boards"
    lb.publish(_write(tmp_path, _variant(tiny_results, "pixels", 0.8)), boards)
    lb.publish(_write(tmp_path, _variant(tiny_results, "close", 0.7), "c.json"), boards)
    lb.publish(_write(tmp_path, _variant(tiny_results, "far", 0.1), "f.json"), boards)
    buf = io.StringIO()
    render.show("tiny__leave-signer-out", boards, "json", None, Console(file=buf))
    rows = json.loads(buf.getvalue())["rows"]
    by = {r["method"]: r for r in rows}
    assert [r["method"] for r in rows] == ["pixels", "close", "far"]
    assert by["pixels"]["overlaps"] == [2] and by["close"]["overlaps"] == [1]
    assert by["far"]["overlaps"] == []
    md = tmp_path / "b.md"
    render.show("tiny__leave-signer-out", boards, "markdown", md, Console(file=io.StringIO()))
    text = md.read_text()
    assert "| 1 | pixels |" in text and "≈ #2" in text
    buf = io.StringIO()
    render.show(None, boards, "rich", None, Console(file=buf, width=200))
    assert "tiny__leave-signer-out" in buf.getvalue()
    with pytest.raises(ResultsError, match="no leaderboard 'nope'.*tiny__leave-signer-out"):
        render.show("nope", boards, "rich", None, Console(file=io.StringIO()))


def test_same_vs_cross_signer_gap(tmp_path, tiny_results, tiny):
    boards = tmp_path / "boards"
    lb.publish(_write(tmp_path, tiny_results), boards)
    req = RunRequest(method="pixels", dataset="tiny", split="same-signer", shots=[1, 2], episodes=3,
                     config={"size": 16})
    same = run(req, tiny)
    lb.publish(_write(tmp_path, same, "s.json"), boards)
    buf = io.StringIO()
    render.show("tiny__leave-signer-out", boards, "json", None, Console(file=buf))
    (row,) = json.loads(buf.getvalue())["rows"]
    want = same["metrics"]["S=2"]["top1"]["mean"] - tiny_results["metrics"]["S=2"]["top1"]["mean"]
    assert row["gap"]["S=2"] == pytest.approx(want)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _dump_dom(url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True, text=True, timeout=90,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (apt-get install -y chromium)")
def test_html_page_sorts_in_headless_chromium(tmp_path, tiny_results):
    boards = tmp_path / "boards"
    lb.publish(_write(tmp_path, _variant(tiny_results, "pixels", 0.5)), boards)
    lb.publish(_write(tmp_path, _variant(tiny_results, "alpha", 0.3), "a.json"), boards)
    lb.publish(_write(tmp_path, _variant(tiny_results, "zeta", 0.7), "z.json"), boards)
    page = tmp_path / "board.html"
    render.show("tiny__leave-signer-out", boards, "html", page, Console(file=io.StringIO()))
    html = page.read_text()
    assert "<script src" not in html and "data:image/png;base64," in html  # self-contained
    dom = _dump_dom(page.as_uri())
    assert 'data-js="ready"' in dom
    assert 'data-order="zeta,pixels,alpha"' in dom  # ranked by top-1 at the main S
    for name in ("zeta", "pixels", "alpha"):
        assert f'data-method="{name}"' in dom
    dom = _dump_dom(page.as_uri() + "#sort=1:asc")  # column 1 = method name
    assert 'data-sorted-by="1:asc"' in dom and 'data-order="alpha,pixels,zeta"' in dom
    assert dom.index('data-method="alpha"') < dom.index('data-method="zeta"')
