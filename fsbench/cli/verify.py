"""`fsbench verify ENTRY`: re-run a leaderboard entry from its manifest and compare."""

from __future__ import annotations

from pathlib import Path

import click

from fsbench.cli.console import out


@click.command()
@click.argument("entry")
@click.option("--boards", type=click.Path(path_type=Path), default=Path("leaderboards"), show_default=True)
@click.option("--dataset", "-d", help="Where the board's dataset is (name, folder or hub:…; default: the board's name).")
def verify(entry: str, boards: Path, dataset: str | None) -> None:
    """Re-run ENTRY (BOARD/METHOD[@CONFIG_HASH] or BOARD#RANK) and report it against its CI."""
    from rich.table import Table
    from rich.text import Text

    from fsbench.results.verify import check, verify_entry

    v = verify_entry(entry, boards, dataset)
    table = Table("S", "board top-1 [95 % CI]", "re-run", "Δ", "inside CI",
                  title=Text(f"{v.method}@{v.config_hash[:8]} on {v.board}"))
    for r in v.rows:
        lo, hi = r["ci95"]
        table.add_row(r["shots"], f"{100 * r['claimed']:.1f} [{100 * lo:.1f}–{100 * hi:.1f}]",
                      f"{100 * r['rerun']:.1f}", f"{100 * r['delta']:+.2f}", "yes" if r["inside_ci"] else "NO")
    out.print(table)
    for m in v.mismatches:
        out.print(Text(f"manifest mismatch: {m}"))
    check(v)
    out.print(f"{entry}: reproduces (every re-run top-1 inside the entry's 95 % CI, manifest hashes equal)",
              markup=False, highlight=False)
