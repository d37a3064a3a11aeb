"""`fsbench publish`, `fsbench leaderboard` and `fsbench report`: from results files to boards."""

from __future__ import annotations

from pathlib import Path

import click

from fsbench.cli.console import out


@click.command()
@click.argument("results_paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--boards", type=click.Path(path_type=Path), default=Path("leaderboards"), show_default=True)
@click.option("--replace", is_flag=True, help="Replace an entry even by a run with fewer episodes or S values.")
@click.option("--to", "to", metavar="hub:OWNER/NAME|DIR",
              help="Then export each board (JSON, sweep file, HTML page) to a Hub dataset repo or a git DIR.")
def publish(results_paths: tuple[Path, ...], boards: Path, replace: bool, to: str | None) -> None:
    """Validate a results file (numbers recomputed from its episodes, identity from its config and
    manifest) and add it to its leaderboard. Several seeds of one run, or a sweep's --out folder (the
    cells of its last sweep), give one entry per run, pooled over seeds. All or nothing: every file
    is checked and every board built before any is written."""
    from fsbench import python_api

    done = python_api.publish(list(results_paths), boards, replace=replace, to=to)
    for board, runs in done.entries:
        out.print(f"published to {board}" + (f" ({runs} seeds)" if runs > 1 else ""), markup=False, highlight=False)
    if done.export is not None:
        what = "committed" if done.export.changed else "unchanged (already committed)"
        out.print(f"{', '.join(done.export.boards)} {what} at {done.export.target}", markup=False, highlight=False,
                  soft_wrap=True)
        out.print(f"revision: {done.export.revision}", markup=False, highlight=False)


@click.command()
@click.argument("entry")
@click.option("--boards", type=click.Path(path_type=Path), default=Path("leaderboards"), show_default=True)
def withdraw(entry: str, boards: Path) -> None:
    """Remove ENTRY (BOARD/METHOD[@CONFIG_HASH] or BOARD#RANK) from its board, e.g. a row superseded
    by the method's new default; the board's sweep file is rewritten with it."""
    from fsbench.boards.leaderboard import withdraw as withdraw_entry

    gone = withdraw_entry(entry, boards)
    out.print(f"withdrew {gone['method']['name']}@{gone['method']['config_hash'][:8]} ({entry})",
              markup=False, highlight=False)


@click.command()
@click.argument("board", required=False)
@click.option("--boards", default="leaderboards", show_default=True,
              help="Folder of boards, or hub:OWNER/NAME@REVISION (a repo `fsbench publish --to` wrote).")
@click.option("--format", "fmt", type=click.Choice(["rich", "markdown", "json", "html"]), default="rich")
@click.option("--out", "out_path", type=click.Path(), help="Write to a file instead of stdout.")
def leaderboard(board: str | None, boards: str, fmt: str, out_path: str | None) -> None:
    """Show a leaderboard (or list them), sorted by the main metric with 95 % CIs. BOARD may be
    hub:OWNER/NAME@REVISION: the board repo `fsbench publish --to` wrote, pinned to a commit."""
    from fsbench import python_api
    from fsbench.boards.render import emit
    from fsbench.names import output_file

    if out_path is not None:
        output_file(out_path)  # before rendering: a bad --out fails fast
    emit(python_api.leaderboard(board, boards, format=fmt), out_path, out)


@click.command()
@click.argument("results_path", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option("--with-embeddings", is_flag=True, help="Re-fit the method on one fold for kernel-PCA and gradient figures.")
def report(results_path: Path, out_dir: Path, with_embeddings: bool) -> None:
    """Figures (confusion, accuracy-vs-S, per-signer CIs, embedding plots) for one results file."""
    from fsbench.names import output_dir
    from fsbench.report.report import make_report

    for path in make_report(results_path, output_dir(out_dir), with_embeddings=with_embeddings):
        out.print(f"wrote {path}", markup=False, highlight=False)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def compact(paths: tuple[Path, ...]) -> None:
    """Rewrite results files (every *.json results file under a folder) in the current schema:
    sparse confusion counts, one line per key. Older files stay readable without this."""
    from fsbench.record.document import is_results_file
    from fsbench.record.integrity import compact_file

    files = [f for p in paths for f in (sorted(p.rglob("*.json")) if p.is_dir() else [p])]
    files = [f for f in files if f in paths or is_results_file(f)]  # a folder may hold boards too
    before = after = 0
    for f in files:
        b, a = compact_file(f)
        before, after = before + b, after + a
        out.print(f"{f}: {b:,} → {a:,} bytes", markup=False, highlight=False)
    out.print(f"{len(files)} results file(s): {before:,} → {after:,} bytes")
