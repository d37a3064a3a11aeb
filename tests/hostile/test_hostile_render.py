"""Text from a results file or board is data in every renderer: shown literally, never interpreted."""

from __future__ import annotations

import copy
import html
import json

import pytest

from fsbench.boards import leaderboard as lb
from fsbench.evaluation.runner import make_method
from fsbench.boards.render import md_escape
from harness import fsbench, load

NAMES = [
    "[/bold] [link=http://x]click[/link]", "[bold red]loud[/]", "[", "]", "[/]", "$\\frac{1}{$", "$x^2$", "$",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**bold** _it_ `code`", "a|b|c", "[x](http://evil)",
    "&amp; &lt;", "line\nbreak", "tab\there", "\x1b[31mred\x1b[0m", "💥 ünïcödé", "%s %d {}", "\\",
]


@pytest.fixture(scope="module")
def boards(tiny_results_path, tmp_path_factory):
    """One board holding an entry per hostile method name (published for real, then renamed in the
    board file, as a hand-edited or older board would hold them)."""
    folder = tmp_path_factory.mktemp("boards")
    doc = load(tiny_results_path)
    for i in range(len(NAMES)):  # one identity each: pixels at sizes 2…21, hashed by the installed method
        one = copy.deepcopy(doc)
        one["method"]["config"]["size"] = 2 + i
        one["method"]["config_hash"] = make_method("pixels", one["method"]["config"]).config_hash
        path = folder / f"r{i}.json"
        path.write_text(json.dumps(one))
        lb.publish(path, folder / "b")
    board_path = folder / "b" / "tiny__leave-signer-out.json"
    board = json.loads(board_path.read_text())
    for entry in board["entries"]:
        entry["method"]["name"] = NAMES[entry["method"]["config"]["size"] - 2]
        entry["manifest"]["git_commit"] = "[link=x]<b>|"
    board_path.write_text(json.dumps(board))
    return folder / "b"


@pytest.fixture(scope="module")
def rendered(boards, tmp_path_factory) -> dict[str, str]:
    """The hostile board in every format, through the CLI's --out."""
    out = {}
    for fmt in ("rich", "markdown", "json", "html"):
        path = tmp_path_factory.mktemp("render") / f"board.{fmt}"
        o = fsbench("leaderboard", "tiny__leave-signer-out", "--boards", boards, "--format", fmt, "--out", path)
        assert o.rc == 0, o.err
        out[fmt] = path.read_text()
    return out


@pytest.mark.parametrize("fmt", ["rich", "markdown", "json", "html"])
@pytest.mark.parametrize("name", NAMES, ids=[repr(n)[1:-1][:24] for n in NAMES])
def test_hostile_method_name_renders_literally(name, fmt, rendered):
    text = rendered[fmt]
    if fmt == "json":
        assert name in {r["method"] for r in json.loads(text)["rows"]}
    elif fmt == "markdown":
        assert md_escape(name) in text
        assert "<script>" not in text and "<img" not in text and "](http://evil)" not in text.replace("\\]", "")
    elif fmt == "html":
        assert html.escape(name) in text and "<script>alert" not in text and "<img src=x" not in text
    elif name.isprintable():
        assert name in text  # markup shown as typed, not interpreted


def test_markdown_rows_keep_their_columns(rendered):
    head = next(line for line in rendered["markdown"].splitlines() if line.startswith("| #"))
    for line in rendered["markdown"].splitlines():
        if line.startswith("| ") and not line.startswith("| #"):
            assert line.replace("\\|", "").count("|") == head.count("|"), line


def test_rich_to_the_terminal_and_the_listing(boards):
    o = fsbench("leaderboard", "tiny__leave-signer-out", "--boards", boards)
    assert o.rc == 0 and "click[/link]" in o.out, o.err
    for fmt in ("rich", "markdown", "html", "json"):
        listing = fsbench("leaderboard", "--boards", boards, "--format", fmt)
        assert listing.rc == 0, listing.err


def test_corrupt_board_error_text_is_not_markup(boards, tmp_path):
    """A board whose error message contains markup characters is listed, not interpreted."""
    (boards / "broken__x.json").write_text("{[/bold]")
    try:
        o = fsbench("leaderboard", "--boards", boards)
        assert o.rc == 0 and "broken__x" in o.out, o.err
    finally:
        (boards / "broken__x.json").unlink()


@pytest.mark.parametrize("board", ["../../etc/passwd", "[/bold]", "a" * 300, "nope"])
def test_unknown_or_hostile_board_names(board, boards):
    o = fsbench("leaderboard", board, "--boards", boards)
    assert o.rc == 2 and ("no leaderboard" in o.error or "path too long" in o.error)


def test_predict_shows_file_and_folder_names_literally(tiny_results_path, tiny_dir, tmp_path):
    """Third audit: `fsbench predict` put image and label names in its table as rich markup: an
    image `[/red].png` (a folder `[` holding `/red].png`) was an internal MarkupError, and a label
    folder `[bold]b` was shown as a bold `b`."""
    from fsbench.testing import tiny_image

    support, images = tmp_path / "support", tmp_path / "images"
    for label in ("[bold]b", "a"):
        (support / label).mkdir(parents=True)
        for k in range(2):
            (support / label / f"{k}.png").write_bytes(tiny_image(len(label) % 4, 0, k))
    (images / "[").mkdir(parents=True)
    (images / "[" / "red].png").write_bytes(tiny_image(1, 1, 1))
    (images / "[" / "x.png").write_bytes(tiny_image(1, 1, 2))
    outcome = fsbench("predict", "--from", tiny_results_path, "-d", tiny_dir, "--support", support, "--images", images)
    assert outcome.rc == 0, outcome.err
    assert "[bold]b" in outcome.out and "[/red].png" in outcome.out
