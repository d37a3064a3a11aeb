"""`fsbench verify`: a board entry re-run from its manifest, or a regenerated board, against its CIs."""

from __future__ import annotations

from pathlib import Path

import click

from fsbench.cli.console import out


@click.command()
@click.argument("target")
@click.option("--boards", type=click.Path(path_type=Path), default=Path("leaderboards"), show_default=True)
@click.option("--dataset", "-d", help="Where the board's dataset is (name, folder or hub:…; default: the board's name).")
@click.option("--runs", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Compare with the results a sweep wrote here (fsbench sweep <boards>/sweeps/BOARD.toml --out DIR) "
                   "instead of re-running; TARGET may then be a whole BOARD.")
def verify(target: str, boards: Path, dataset: str | None, runs: Path | None) -> None:
    """Re-run TARGET (BOARD/METHOD[@CONFIG_HASH] or BOARD#RANK) and report it against its CI; with
    --runs, check TARGET (an entry or every entry of BOARD) against a sweep's results files."""
    from rich.table import Table
    from rich.text import Text

    from fsbench.boards.verify import check, verify_entry, verify_runs

    found = verify_runs(target, boards, runs, dataset) if runs else [verify_entry(target, boards, dataset)]
    table = Table("entry", "S", "board top-1 [95 % CI]", "re-run", "Δ", "inside CI",
                  title=Text(f"{found[0].board}: {len(found)} entr{'y' if len(found) == 1 else 'ies'}"
                             + (f" against {runs}" if runs else " re-run")))
    for v in found:
        name = f"{v.method}@{v.config_hash[:8]}"
        if not v.rows:
            table.add_row(Text(name), "—", "", "", "", "not run")
        for i, r in enumerate(v.rows):
            lo, hi = r["ci95"]
            table.add_row(Text("" if i else name), r["shots"], f"{100 * r['claimed']:.1f} [{100 * lo:.1f}–{100 * hi:.1f}]",
                          f"{100 * r['rerun']:.1f}", f"{100 * r['delta']:+.2f}", "yes" if r["inside_ci"] else "NO")
    out.print(table)
    for v in found:
        for m in v.mismatches:
            out.print(Text(f"{v.method}@{v.config_hash[:8]}: manifest mismatch: {m}"))
    check(found)
    what = target if len(found) == 1 else f"all {len(found)} entries of {found[0].board}"
    out.print(f"{what}: reproduces (every re-run top-1 inside the entry's 95 % CI, manifest hashes equal)",
              markup=False, highlight=False)
