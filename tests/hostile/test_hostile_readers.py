"""Every reader of a results file checks it as publish does; names are escaped where they are
printed; malformed or odd input is one line (issue 25 cases 6, 11 and 12)."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from fsbench.boards.leaderboard import read_board
from fsbench.record.stats import dense_confusion
from fsbench.sweep.from_board import board_sweep, entry_cells
from harness import fsbench, load, refused


def _forge(doc: dict) -> dict:
    """The summary a forger wants (top-1 99 % at every S), the rows left as they were."""
    doc = copy.deepcopy(doc)
    for m in doc["metrics"].values():
        m["top1"] = {"mean": 0.99, "ci95": [0.98, 1.0]}
    return doc


def test_verify_runs_refuses_a_results_file_whose_summary_its_rows_do_not_give(tiny_dir, tiny_results_path, tmp_path):
    """A forged board entry and a results file forged to match: `verify --runs` must not say
    'reproduces' (case 6)."""
    boards, runs = tmp_path / "boards", tmp_path / "runs"
    assert fsbench("publish", tiny_results_path, "--boards", boards).rc == 0
    board_path = boards / "tiny__leave-signer-out.json"
    board = read_board(board_path)
    (cell,) = entry_cells(board, board["entries"][0], runs, dataset=str(tiny_dir))
    runs.mkdir()
    shutil.copy(tiny_results_path, cell.path)
    ok = fsbench("verify", "tiny__leave-signer-out", "--boards", boards, "--runs", runs, "--dataset", tiny_dir)
    assert ok.rc == 0 and "reproduces" in ok.out, ok.err  # the honest pair reproduces
    forged = _forge(load(tiny_results_path))
    cell.path.write_text(json.dumps(forged))
    raw = json.loads(board_path.read_text())
    for key, m in raw["entries"][0]["metrics"].items():
        m["top1"] = forged["metrics"][key]["top1"]
    board_path.write_text(json.dumps(raw))
    outcome = fsbench("verify", "tiny__leave-signer-out", "--boards", boards, "--runs", runs, "--dataset", tiny_dir)
    refused(outcome, cell.path.name, "disagree with the per-episode rows")
    assert "reproduces" not in outcome.out


def test_sweep_resume_recomputes_an_edited_cell(tiny_dir, tmp_path):
    """An edited results file in a sweep folder is not 'already done' (case 6)."""
    out = tmp_path / "sweep"
    args = ("sweep", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1",
            "--set", "size=3", "--out", out)
    assert fsbench(*args).rc == 0
    (cell,) = [p for p in out.glob("*.json") if p.name != "sweep.json"]
    honest = load(cell)
    cell.write_text(json.dumps(_forge(honest)))
    again = fsbench(*args)
    assert again.rc == 0, again.err
    assert "1 computed, 0 already done" in again.out
    assert load(cell)["metrics"] == honest["metrics"]


def _schema1(doc: dict, change) -> dict:
    doc = copy.deepcopy(doc)
    doc["schema_version"] = 1
    for m in doc["metrics"].values():
        m["confusion"] = dense_confusion(m["confusion"]).tolist()
    change(doc["metrics"]["S=1"])
    return doc


#: schema-1 files (dense confusion lists) that are not what schema 1 wrote
SCHEMA1 = {
    "ragged": lambda m: m.update(confusion=[[1, 2], [3]]),
    "strings": lambda m: m.update(confusion=[["a", "b"], ["c", "d"]]),
    "three-d": lambda m: m.update(confusion=[[[1]]]),
    "empty": lambda m: m.update(confusion=[]),
    "floats": lambda m: m.update(confusion=[[1.5, 0], [0, 0]]),
    "bools": lambda m: m.update(confusion=[[True, False], [False, True]]),
    "huge": lambda m: m.update(confusion=[[10**30, 0], [0, 0]]),
    "nulls": lambda m: m.update(confusion=[[None, None], [None, None]]),
    "not-square": lambda m: m.update(confusion=[[1, 2, 3], [4, 5, 6]]),
}
READERS = ["publish", "report", "compact", "verify-runs", "sweep-resume"]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("case", sorted(SCHEMA1))
def test_a_malformed_schema_1_file_is_one_line_for_every_reader(case, reader, tiny_dir, tiny_results_path, tmp_path):
    """Case 12: it used to be a numpy traceback (or a silent int(1.5) = 1) in each of them."""
    bad = json.dumps(_schema1(load(tiny_results_path), SCHEMA1[case]))
    boards, runs = tmp_path / "boards", tmp_path / "runs"
    if reader in ("verify-runs", "sweep-resume"):
        args = ("sweep", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1,2", "--episodes", "3",
                "--set", "size=2", "--out", runs)
        if reader == "verify-runs":
            assert fsbench("publish", tiny_results_path, "--boards", boards).rc == 0
            board = read_board(boards / "tiny__leave-signer-out.json")
            (cell,) = entry_cells(board, board["entries"][0], runs, dataset=str(tiny_dir))
            runs.mkdir()
            cell.path.write_text(bad)
            refused(fsbench("verify", "tiny__leave-signer-out", "--boards", boards, "--runs", runs, "--dataset", tiny_dir),
                    "not a square matrix of counts")
            return
        runs.mkdir()
        (cell_path,) = [p for p in _cells(tiny_dir, runs)]
        cell_path.write_text(bad)
        again = fsbench(*args)
        assert again.rc == 0, again.err
        assert "1 computed, 0 already done" in again.out  # not trusted, not a crash: recomputed
        return
    path = tmp_path / "r.json"
    path.write_text(bad)
    command = {"publish": ("publish", path, "--boards", boards), "report": ("report", path, "--out", tmp_path / "rep"),
               "compact": ("compact", path)}[reader]
    refused(fsbench(*command), "not a square matrix of counts")
    assert path.read_text() == bad  # compact did not rewrite it


def _cells(tiny_dir, runs):
    from fsbench.sweep.cells import identify
    from fsbench.sweep.spec import CellSpec

    spec = CellSpec(method="pixels", dataset=str(tiny_dir), split="leave-signer-out", seed=0, shots=(1, 2), episodes=3,
                    config={"size": 2})
    return [c.path for c in identify([spec], runs)]


NAMES = ["<script>alert(1)</script>", "**bold** _it_ `code`", "[x](http://evil)", "a|b", "# heading", "line\nbreak"]


def test_report_summary_escapes_every_name(tiny_results_path, tmp_path):
    """Case 11: method, dataset, split, revision and class names are data in summary.md, not Markdown/HTML."""
    from fsbench.report.report import summary_markdown

    doc = load(tiny_results_path)
    doc["method"]["name"], doc["dataset"]["revision"] = NAMES[0], NAMES[2]
    doc["dataset"]["name"], doc["split"]["name"] = NAMES[1], NAMES[4]
    for pair in doc["metrics"]["S=1"]["confused_pairs"]:
        pair["true"], pair["pred"] = NAMES[0], NAMES[3]
    assert doc["metrics"]["S=1"]["confused_pairs"]
    text = summary_markdown(doc)
    assert "<script>" not in text and "&lt;script&gt;" in text
    for raw in ("**bold**", "_it_", "`code`", "[x](http", "a|b", "line\nbreak"):
        assert raw not in text, raw
    assert "\\# heading" in text  # a '#' that starts no heading


def test_report_writes_an_escaped_summary(tiny_results_path, tmp_path):
    """The same through `fsbench report`, with the names a results file may really hold: class names."""
    doc = load(tiny_results_path)
    doc["dataset"]["class_names"] = ["<script>alert(1)</script>", "b", "c", "d"]
    for m in doc["metrics"].values():
        for pair in m["confused_pairs"]:
            pair["true"] = pair["pred"] = doc["dataset"]["class_names"][0]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    o = fsbench("report", path, "--out", tmp_path / "rep")
    assert o.rc == 0, o.err
    assert "<script>" not in (tmp_path / "rep" / "summary.md").read_text()


TOML_STRINGS = ['quote " inside', "back\\slash", "new\nline", "tab\tand del\x7f", "💥 ünïcödé", "'single'", "]]"]


@pytest.mark.parametrize("text", TOML_STRINGS, ids=[repr(t)[1:-1][:16] for t in TOML_STRINGS])
def test_a_boards_sweep_file_holds_any_string_literally(text, tiny_results_path, tmp_path):
    """Every string printed into TOML is escaped: the sweep file reads back as the same config."""
    import tomllib

    assert fsbench("publish", tiny_results_path, "--boards", tmp_path).rc == 0
    board = read_board(tmp_path / "tiny__leave-signer-out.json")
    board["entries"][0]["method"]["config"]["note"] = text
    board["entries"][0]["method"]["config"][text] = 1
    doc = tomllib.loads(board_sweep(board, boards=f"boards\n{text}"))
    assert doc["run"][0]["config"]["note"] == text and doc["run"][0]["config"][text] == 1


def test_a_lone_surrogate_in_a_config_is_refused_not_written(tiny_results_path, tmp_path):
    from fsbench.errors import ResultsError

    assert fsbench("publish", tiny_results_path, "--boards", tmp_path).rc == 0
    board = read_board(tmp_path / "tiny__leave-signer-out.json")
    board["entries"][0]["method"]["config"]["note"] = "\ud800"
    with pytest.raises(ResultsError, match="lone surrogate"):
        board_sweep(board)


def test_an_empty_license_is_one_line(tmp_path):
    """Case 12: `prepare folder --license ''` was an IndexError while writing the dataset card."""
    from fsbench.testing import tiny_image

    for c in "ab":
        (tmp_path / "raw" / c).mkdir(parents=True)
        for s in (1, 2):
            (tmp_path / "raw" / c / f"s{s}_0.png").write_bytes(tiny_image(ord(c) % 4, s, 0))
    for value in ("", "   ", "two\nlines"):
        refused(fsbench("prepare", "folder", "--raw", tmp_path / "raw", "--name", "mine", "--pattern",
                        "{label}/{signer}_{*}.png", "--license", value, "--out", tmp_path / "out"), "--license")
    assert not (tmp_path / "out").exists()


def test_one_image_per_class_and_signer_at_one_shot_is_one_line(tmp_path):
    """Case 12: no class can give a support and a query: one line before any work, not a numpy error."""
    from fsbench.data.cards import DatasetCard
    from fsbench.data.records import PrepareReport
    from fsbench.data.store import write_prepared
    from fsbench.testing import TINY_CLASSES, TINY_SIGNERS, tiny_rows

    card = DatasetCard(name="single", title="one image per class and signer", description="", license="CC0",
                       citation="none", classes=TINY_CLASSES, signers=TINY_SIGNERS, raw_layout="synthetic", image_size=24)
    rows = [{k: v for k, v in r.items() if k != "condition"} for r in tiny_rows(1)]
    write_prepared(rows, tmp_path / "single", card, {}, PrepareReport(dataset="single", raw="synthetic"))
    refused(fsbench("run", "-m", "pixels", "-d", tmp_path / "single", "-s", "leave-signer-out", "--shots", "1",
                    "--episodes", "1", "--out", tmp_path / "r.json"), "single image", "at least 2 images")
    assert not (tmp_path / "r.json").exists()


def test_a_memory_error_inside_the_one_line_handler_is_still_one_line(tiny_results_path, tmp_path, monkeypatch):
    """Case 12: out of memory in a command, and again while the handler names the plugin to blame."""
    from fsbench.boards import leaderboard
    from fsbench.cli import failures

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(leaderboard, "verified", no_memory)
    monkeypatch.setattr(failures, "blame", no_memory)
    refused(fsbench("publish", tiny_results_path, "--boards", tmp_path / "b"), "out of memory")


# ---------------------------------------------------------------- third audit: what a JSON or TOML reader accepts

HUGE_INT = "9" * 5000  # past Python's 4300-digit limit: json and tomllib raise a bare ValueError


def _results_text(tiny_results_path, edit: str) -> str:
    """The results file's text with one raw edit (duplicated key, huge integer) JSON can carry."""
    text = tiny_results_path.read_text()
    if edit == "duplicate-key":  # a forged dataset a reviewer reads first, the real one a parser keeps
        return text.replace("{", '{"dataset": {"name": "forged"},', 1)
    return text.replace('"num_images":', f'"num_images":{HUGE_INT},"x":', 1)


@pytest.mark.parametrize("edit", ["duplicate-key", "huge-int"])
@pytest.mark.parametrize("reader", ["publish", "report", "compact", "predict", "board", "sweep-json"])
def test_a_duplicated_key_or_a_huge_integer_is_one_line_for_every_json_reader(edit, reader, tiny_results_path, tmp_path):
    """Third audit: `{"dataset": forged, …, "dataset": real}` was published (Python keeps the last
    copy, a reviewer reads the first) and a 5000-digit integer was an internal error (ValueError)."""
    path = tmp_path / "r.json"
    path.write_text(_results_text(tiny_results_path, edit))
    needle = "appears twice" if edit == "duplicate-key" else "4300 digits"
    if reader == "board":
        boards = tmp_path / "boards"
        assert fsbench("publish", tiny_results_path, "--boards", boards).rc == 0
        board = boards / "tiny__leave-signer-out.json"
        text = board.read_text()
        board.write_text(text.replace("{", '{"entries": [],', 1) if edit == "duplicate-key"
                         else text.replace('"board_version": 1', f'"board_version": {HUGE_INT}', 1))
        refused(fsbench("leaderboard", "tiny__leave-signer-out", "--boards", boards), needle)
        return
    if reader == "sweep-json":
        folder = tmp_path / "sweep"
        folder.mkdir()
        shutil.copy(tiny_results_path, folder / "cell.json")
        cells = '[{"results": "cell.json"}]'
        (folder / "sweep.json").write_text(f'{{"cells": [], "cells": {cells}}}' if edit == "duplicate-key"
                                           else f'{{"n": {HUGE_INT}, "cells": {cells}}}')
        refused(fsbench("publish", folder, "--boards", tmp_path / "boards"), needle, "sweep.json")
        assert not (tmp_path / "boards").exists()
        return
    args = {"publish": ("publish", path, "--boards", tmp_path / "boards"),
            "report": ("report", path, "--out", tmp_path / "rep"),
            "compact": ("compact", path),
            "predict": ("predict", "--from", path, "--support", tmp_path, "--images", tmp_path)}[reader]
    before = path.read_bytes()
    refused(fsbench(*args), needle)
    assert path.read_bytes() == before and not (tmp_path / "boards").exists() and not (tmp_path / "rep").exists()


@pytest.mark.parametrize("case", ["config-duplicate-key", "sweep-huge-int"])
def test_configs_and_sweep_files_refuse_a_duplicated_key_or_a_huge_integer(case, tiny_dir, tmp_path):
    """Third audit: `--config` JSON naming `size` twice ran with the last one in silence; a sweep
    file with a 5000-digit seed was an internal error."""
    if case == "config-duplicate-key":
        config = tmp_path / "c.json"
        config.write_text('{"size": 4, "size": 64}')
        refused(fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--config", config,
                        "--out", tmp_path / "r.json"), "'size' appears twice")
        assert not (tmp_path / "r.json").exists()
    else:
        sweep = tmp_path / "s.toml"
        sweep.write_text(f'method = "pixels"\ndataset = "{tiny_dir}"\nsplit = "leave-signer-out"\nseed = {HUGE_INT}\n')
        refused(fsbench("sweep", sweep, "--dry-run", "--out", tmp_path / "out"), "not valid TOML", "4300 digits")
