"""`fsbench prepare`: raw files in a published layout (or your own, by pattern) → a prepared
Hugging Face dataset; `fsbench push`: a prepared dataset → a Hub dataset repo (online or a git DIR)."""

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
@click.option("--allow-duplicates", is_flag=True,
              help="Keep pictures with identical pixels under two signers (refused by default: a train/test leak).")
@click.option("--name", "dataset_name", help="folder: the name `fsbench run --dataset NAME` will use.")
@click.option("--pattern", help='folder: relative path of every image, e.g. "{label}/{signer}_{*}.jpg" '
                                "(fields {label} {signer} {condition} {*}).")
@click.option("--size", "image_size", type=int, help="folder: stored image side in pixels (default 224 for RGB, the pretrained nets' input; 128 for L).")
@click.option("--mode", type=click.Choice(["RGB", "L"]), help="folder: colour (RGB, default) or grayscale (L).")
@click.option("--title", help="folder: a title for the generated dataset card.")
@click.option("--license", "license", help="folder: the licence of your images, recorded in the card.")
def prepare(dataset: str, raw: Path | None, out_dir: Path | None, push_repo: str | None, strict: bool,
            allow_duplicates: bool, **folder: str | int | None) -> None:
    """Turn a raw dataset into a versioned Hugging Face dataset.

    Your own images: `fsbench prepare folder --raw DIR --name NAME --pattern "{label}/{signer}_{*}.jpg"`,
    then `fsbench run --dataset NAME ...` (docs/datasets.md).
    """
    from fsbench import python_api

    given = {k: v for k, v in folder.items() if v is not None}
    if dataset != "folder" and given:
        flags = ", ".join(FOLDER_OPTIONS[k] for k in given)
        raise FsbenchError(f"{flags}: options of `fsbench prepare folder` only; {dataset!r} has a fixed layout")
    if dataset == "folder" and raw is None:
        raise FsbenchError('fsbench prepare folder needs --raw DIR (and --name NAME --pattern "{label}/{signer}_{*}.jpg")')
    report = python_api.prepare(dataset, raw, out_dir, push=push_repo, strict=strict, allow_duplicates=allow_duplicates,
                                **given)
    out.print(report.summary(), markup=False, highlight=False)
    for item in report.corrupt[:5]:
        out.print(f"  unreadable: {item['path']} ({item['reason']})", markup=False, highlight=False)
    if len(report.corrupt) > 5:
        out.print(f"  … and {len(report.corrupt) - 5} more unreadable files (listed in fsbench.json)")
    for group in report.duplicate_images[:5]:
        out.print(f"  identical pixels: {', '.join(group['ids'][:4])}{' …' if len(group['ids']) > 4 else ''} "
                  f"(signers {', '.join(group['signers'])}; classes {', '.join(group['labels'])})",
                  markup=False, highlight=False)
    if dataset == "folder" and report.skipped:
        out.print(f"  {len(report.skipped)} files did not match the pattern, e.g. {report.skipped[0]['path']}",
                  markup=False, highlight=False)


@click.command()
@click.argument("dataset")
@click.option("--to", "to", required=True, metavar="hub:OWNER/NAME|DIR",
              help="hub:OWNER/NAME uploads (needs a token); DIR commits a git repo in the Hub's layout.")
def push(dataset: str, to: str) -> None:
    """Put a prepared DATASET (name or folder) in a Hub dataset repo and print the revision to pin.

    `--to DIR` writes a git repository (parquet shards, README.md card, fsbench.json) on branch
    main, e.g. a Hub mirror's datasets/OWNER/NAME folder; `fsbench run --dataset hub:OWNER/NAME@REV`
    then loads exactly this content (docs/hub.md).
    """
    from fsbench import python_api

    pushed = python_api.push(dataset, to)
    what = "committed" if pushed.changed else "unchanged (already committed)"
    out.print(f"{pushed.name} (content {pushed.content_hash[:12]}…) {what} at {pushed.target}",
              markup=False, highlight=False, soft_wrap=True)
    out.print(f"revision: {pushed.revision}", markup=False, highlight=False)
    out.print(f"pin it: --dataset hub:{hub_id(pushed.target)}@{pushed.revision}", markup=False, highlight=False,
              soft_wrap=True)


def hub_id(target: str) -> str:
    """OWNER/NAME of a push target: the hub id itself, or a mirror folder's datasets/OWNER/NAME."""
    if not Path(target).is_absolute():  # a Hub target: OWNER/NAME@BRANCH
        return target.split("@")[0]
    parts = Path(target).parts
    return "/".join(parts[-2:]) if len(parts) > 3 and parts[-3] == "datasets" else "OWNER/NAME"
