"""Boards as a Hub dataset repo: `fsbench publish --to hub:OWNER/NAME|DIR` exports each published
board's JSON, its sweep file and its HTML page; `fsbench leaderboard hub:OWNER/NAME@REV` reads
them back, pinned to a commit.

Export is a separate step after the local publish (which owns the board's lock and its
all-or-nothing write): it copies what the leaderboards folder holds, so the repo never shows a
board the local folder does not. A repo may hold several boards; each export replaces only its
own boards' files and rewrites the card listing them all.

    <board>.json  <board>.html  sweeps/<board>.toml  README.md (card with YAML metadata)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fsbench.boards.leaderboard import read_board
from fsbench.data.git_repo import check_target, commit_files, git
from fsbench.data.hub_repo import fetch, is_hub, parse, remote_files, upload
from fsbench.errors import ResultsError
from fsbench.sweep.from_board import sweep_path

#: what a board repo holds, as download patterns
BOARD_FILES = ("*.json", "*.html", "sweeps/*.toml", "README.md")


@dataclass(frozen=True)
class Exported:
    """Where `export_boards` put boards, and the revision that pins them."""

    boards: tuple[str, ...]
    target: str
    revision: str
    changed: bool  # False: the target already held exactly these files (no new commit)


def board_of_path(rel: str) -> str | None:
    """The board a repo path belongs to (None for the card and anything else)."""
    p = PurePosixPath(rel)
    if len(p.parts) == 1 and p.suffix in (".json", ".html"):
        return p.stem
    if len(p.parts) == 2 and p.parts[0] == "sweeps" and p.suffix == ".toml":
        return p.stem
    return None


def board_files(path: Path) -> dict[str, Path | bytes]:
    """One published board's files as repo path → source (the HTML page rendered now)."""
    from fsbench.boards.render import board_rows, html_page, sibling_gap_board

    board = read_board(path)
    name = path.stem
    files: dict[str, Path | bytes] = {
        f"{name}.json": path,
        f"{name}.html": html_page(board, board_rows(board, sibling_gap_board(board, path))).encode(),
    }
    if sweep_path(path).is_file():
        files[f"sweeps/{name}.toml"] = sweep_path(path)
    return files


def _with_siblings(board_paths: Iterable[Path]) -> list[Path]:
    """The boards, and each one's signer-gap sibling (its page shows a gap column that changes
    with this board), so no exported page is left stale."""
    from fsbench.boards.render import sibling_gap_board, sibling_path

    found: dict[Path, None] = {}
    for path in map(Path, board_paths):
        found[path] = None
        board = read_board(path)
        if sibling_gap_board(board, path) is not None:
            found[sibling_path(board, path)] = None  # type: ignore[index]
    return list(found)


def card(names: Iterable[str], where: str) -> str:
    """README.md for a board repo: Hub YAML metadata, then what is here and how to read it."""
    import yaml

    names = sorted(set(names))
    meta = {"pretty_name": "fsbench leaderboards", "tags": ["fsbench", "leaderboard", "benchmark"],
            "fsbench": {"kind": "leaderboards", "boards": names}}
    lines = [f"- `{n}`: [{n}.html]({n}.html) (page), [{n}.json]({n}.json) (board), "
             f"[sweeps/{n}.toml](sweeps/{n}.toml) (the sweep that regenerates it)" for n in names]
    return (f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n\n# fsbench leaderboards\n\n"
            "Boards published by `fsbench publish --to`. Each entry carries the manifest that reproduces it "
            "(dataset content hash, split and episode hashes, config, seed, git commit).\n\n"
            + "\n".join(lines)
            + f"\n\nShow one pinned to a commit: `fsbench leaderboard hub:{where}@REVISION --format markdown`.\n")


def _board_repo_path(rel: str) -> bool:
    """A path a leaderboards repo may track: its card, the Hub's .gitattributes, a board's files."""
    return rel in ("README.md", ".gitattributes") or board_of_path(rel) is not None


def check_export_target(to: str) -> None:
    """Refuse a `--to` that `export_boards` would refuse, before `publish` writes any board:
    a malformed `hub:` spec, or a DIR that is a file, holds files of its own or is a git repo
    fsbench may not write (another branch, uncommitted changes, files that are not boards)."""
    if is_hub(to):
        parse(to)
        return
    check_target(to, allowed=_board_repo_path, what="a fsbench leaderboards repo")


def export_boards(board_paths: Iterable[Path], to: str) -> Exported:
    """Copy published boards to `to`: `hub:OWNER/NAME[@BRANCH]` (online, needs a token) or a
    local git repo DIR in the Hub's layout, committed on main."""
    files: dict[str, Path | bytes] = {}
    for path in _with_siblings(board_paths):
        files.update(board_files(path))
    names = tuple(sorted({board_of_path(rel) for rel in files} - {None}))  # type: ignore[arg-type]
    message = f"fsbench publish {', '.join(names)}"
    if is_hub(to):
        ref = parse(to)
        present = {board_of_path(rel) for rel in remote_files(ref)} - {None}
        files["README.md"] = card({*present, *names}, ref.repo_id).encode()  # type: ignore[arg-type]
        return Exported(names, str(ref), upload(files, ref, message), True)
    dest = Path(to).expanduser().resolve()
    present = set()
    if (dest / ".git").exists():
        tracked = git(dest, "ls-files", "-z").stdout.split("\0")
        present = {board_of_path(rel) for rel in tracked if rel} - {None}
    files["README.md"] = card({*present, *names}, "OWNER/NAME").encode()  # type: ignore[arg-type]
    revision, changed = commit_files(
        dest, files, message=message, what="a fsbench leaderboards repo",
        allowed=_board_repo_path,
        replaced=lambda rel: rel == "README.md" or board_of_path(rel) in names,
    )
    return Exported(names, str(dest), revision, changed)


def fetch_boards(spec: str) -> tuple[Path, list[str]]:
    """A board repo `hub:OWNER/NAME[@REVISION]` downloaded into the HF cache: (folder, its boards)."""
    import yaml

    ref = parse(spec)
    folder, commit = fetch(ref, f"leaderboards {ref.repo_id}", "check the repo id and the revision "
                           "`fsbench publish --to` printed", BOARD_FILES)
    try:
        meta = yaml.safe_load((folder / "README.md").read_text().split("---")[1])["fsbench"]
        names = [str(n) for n in meta["boards"]] if meta["kind"] == "leaderboards" else None
    except (OSError, IndexError, KeyError, TypeError, yaml.YAMLError):
        names = None
    if not names:
        raise ResultsError(f"{ref.repo_id}@{commit[:12]} is not a leaderboards repo (its README.md card lists no "
                           f"fsbench boards); give the repo `fsbench publish --to` wrote")
    return folder, names
