"""`fsbench list` and `fsbench info`: what is installed, and what one plugin is."""

from __future__ import annotations

import click
from rich.table import Table

from fsbench.cli.console import out


@click.command("list")
@click.argument("kind", required=False)
def list_cmd(kind: str | None) -> None:
    """List installed plugins (methods, backbones, heads, classifiers, splits, datasets)."""
    from fsbench import python_api, registry

    kinds = [kind] if kind else list(registry.GROUPS)
    table = Table("kind", "name", "distribution", "entry point")
    for k in kinds:
        sources = registry.plugins(k)  # a name two distributions register is listed with both
        for name in python_api.list(k):  # the names `fsbench.list(kind)` gives
            for p in (p for p in sources if p.name == name):
                table.add_row(k, p.name, p.distribution, p.value)
    out.print(table)


@click.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(["methods", "backbones", "heads", "classifiers", "splits", "datasets"]))
def info(name: str, kind: str | None) -> None:
    """Describe one plugin: its docstring, config or dataset card."""
    from fsbench.cli.info import describe

    out.print(describe(name, kind))
