"""`fsbench prepare`: raw files in a published layout (or your own, by pattern) → a prepared
Hugging Face dataset."""

from __future__ import annotations

from pathlib import Path

import click

from fsbench.cli.console import out
from fsbench.errors import FsbenchError

#: options that only `fsbench prepare folder` reads (the builder's keyword → the flag's name)
FOLDER_OPTIONS = {"dataset_name": "--name", "pattern": "--pattern", "image_size": "--size", "mode": "--mode",
                  "title": "--title", "license": "--license"}


@click.command()
@click.argument("dataset")
@click.option("--raw", type=click.Path(path_type=Path), help="Raw files in the published layout (or your own folder).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Output folder.")
@click.option("--push", "push_repo", help="Also push to this Hugging Face Hub repo id.")
@click.option("--strict", is_flag=True, help="Abort on the first corrupt image instead of listing it.")
@click.option("--name", "dataset_name", help="folder: the name `fsbench run --dataset NAME` will use.")
@click.option("--pattern", help='folder: relative path of every image, e.g. "{label}/{signer}_{*}.jpg" '
                                "(fields {label} {signer} {condition} {*}).")
@click.option("--size", "image_size", type=int, help="folder: stored image side in pixels (default 128).")
@click.option("--mode", type=click.Choice(["RGB", "L"]), help="folder: colour (RGB, default) or grayscale (L).")
@click.option("--title", help="folder: a title for the generated dataset card.")
@click.option("--license", "license", help="folder: the licence of your images, recorded in the card.")
def prepare(dataset: str, raw: Path | None, out_dir: Path | None, push_repo: str | None, strict: bool,
            **folder: str | int | None) -> None:
    """Turn a raw dataset into a versioned Hugging Face dataset.

    Your own images: `fsbench prepare folder --raw DIR --name NAME --pattern "{label}/{signer}_{*}.jpg"`,
    then `fsbench run --dataset NAME ...` (docs/datasets.md).
    """
    from fsbench.data.hub import prepare_dataset

    given = {k: v for k, v in folder.items() if v is not None}
    if dataset != "folder" and given:
        flags = ", ".join(FOLDER_OPTIONS[k] for k in given)
        raise FsbenchError(f"{flags}: options of `fsbench prepare folder` only; {dataset!r} has a fixed layout")
    if dataset == "folder" and raw is None:
        raise FsbenchError('fsbench prepare folder needs --raw DIR (and --name NAME --pattern "{label}/{signer}_{*}.jpg")')
    report = prepare_dataset(dataset, raw, out_dir, push=push_repo, strict=strict, **given)
    out.print(report.summary(), markup=False, highlight=False)
    for item in report.corrupt[:5]:
        out.print(f"  unreadable: {item['path']} ({item['reason']})", markup=False, highlight=False)
    if len(report.corrupt) > 5:
        out.print(f"  … and {len(report.corrupt) - 5} more unreadable files (listed in fsbench.json)")
    if dataset == "folder" and report.skipped:
        out.print(f"  {len(report.skipped)} files did not match the pattern, e.g. {report.skipped[0]['path']}",
                  markup=False, highlight=False)
