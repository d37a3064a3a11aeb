"""`fsbench prepare`: raw files in a published layout → a prepared Hugging Face dataset."""

from __future__ import annotations

from pathlib import Path

import click

from fsbench.cli.console import out


@click.command()
@click.argument("dataset")
@click.option("--raw", type=click.Path(path_type=Path), help="Raw files in the published layout.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Output folder.")
@click.option("--push", "push_repo", help="Also push to this Hugging Face Hub repo id.")
@click.option("--strict", is_flag=True, help="Abort on the first corrupt image instead of listing it.")
def prepare(dataset: str, raw: Path | None, out_dir: Path | None, push_repo: str | None, strict: bool) -> None:
    """Turn a raw dataset into a versioned Hugging Face dataset."""
    from fsbench.data.hub import prepare_dataset

    report = prepare_dataset(dataset, raw, out_dir, push=push_repo, strict=strict)
    out.print(report.summary() if hasattr(report, "summary") else report)
