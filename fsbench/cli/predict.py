"""`fsbench predict`: a trained method on your own images — enrol a support folder, classify new images."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fsbench.cli.console import SEED, device_options, known_names, load_config, out
from fsbench.errors import FsbenchError


@click.command()
@click.option("--method", "-m", help="Method name (default: the one in --from's results).")
@click.option("--from", "from_path", type=click.Path(path_type=Path),
              help="A results file (fsbench run): refit its method from the manifest, fold --fold (a cache hit).")
@click.option("--dataset", "-d", help="The dataset to fit on (with --from: where it is, if the run named a folder path).")
@click.option("--split", "-s", help="Without --from: the split whose fold --fold trains the method.")
@click.option("--fold", default=0, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Without --from.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Without --from: JSON/TOML method config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Without --from: override a config key.")
@click.option("--support", "support_dir", type=click.Path(path_type=Path), required=True,
              help="The new signer's enrolment images, laid out <label>/<image>.")
@click.option("--shots", type=click.IntRange(min=1), help="Use the first S images of each label (default: all).")
@click.option("--images", "images_dir", type=click.Path(path_type=Path), required=True, help="Images to classify.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@device_options
def predict(method, from_path, dataset, split, fold, seed, config_path, overrides, support_dir, shots, images_dir,
            as_json, device, precision, deterministic) -> None:
    """Classify IMAGES against a new signer's SUPPORT images with a fitted method (top-2 with scores)."""
    from rich.table import Table
    from rich.text import Text

    known_names(method, split)  # before torch
    from fsbench.deploy.fit import fit_fold, refit_from_results
    from fsbench.deploy.predict import predict as run_predict
    from fsbench.device import resolve

    where = resolve(device, precision, deterministic)

    if from_path is not None:
        from fsbench.record.integrity import read_checked

        if split or config_path or overrides:
            raise FsbenchError("--from fixes method, config, split and seed; drop --split/--config/--set")
        results = read_checked(from_path)
        if method and method != results["method"]["name"]:
            raise FsbenchError(f"--method {method} but {from_path} is a {results['method']['name']} run; drop --method")
        fitted, data, chosen = refit_from_results(results, fold, dataset, where)
    else:
        if not (method and dataset and split):
            raise FsbenchError("give --from RESULTS.json, or --method, --dataset and --split to fit on one fold")
        fitted, data, chosen = fit_fold(method, dataset, split, fold, load_config(config_path, overrides), seed, where)
    doc = run_predict(fitted, data, support_dir, images_dir, shots)
    doc["fitted_on"] = {"dataset": data.name, "content_hash": data.content_hash, "fold": chosen.name}
    if as_json:
        click.echo(json.dumps(doc, indent=1))
        return
    per = doc["support"]["per_class"]
    # Text, not markup: file and folder names are the user's data ("[/red].png" was a MarkupError)
    table = Table("image", "top-1", "score", "top-2", "score",
                  title=Text(f"{fitted.name} (fitted on {data.name} {chosen.name}) · {len(per)} letters, "
                             f"{min(per.values())}–{max(per.values())} support images each"))
    for p in doc["predictions"]:
        cells = [c for t in p["top"] for c in (t["label"], f"{t['score']:.3f}")] if p["detected"] else ["no hand found"]
        table.add_row(*map(Text, [p["image"], *cells]))
    out.print(table)
    out.print(f"score: {doc['score']}", markup=False, highlight=False, soft_wrap=True)
