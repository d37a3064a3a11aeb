"""`fsbench run`, `fsbench demo` and `fsbench export`: the commands that fit and evaluate methods."""

from __future__ import annotations

from pathlib import Path

import click

from fsbench.cli.console import SEED, device_options, known_names, load_config, out, parse_shots


@click.command()
@click.option("--method", "-m", required=True, help="Registered method name (fsbench list methods).")
@click.option("--dataset", "-d", required=True, help="Dataset name, local folder or hub:owner/repo@revision.")
@click.option("--split", "-s", required=True, help="Split name (fsbench list splits).")
@click.option("--shots", default="1,5", show_default=True, help="Support examples per class, e.g. 0,1,4.")
@click.option("--episodes", default=10, show_default=True, help="Episodes per signer and S.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--ways", type=int, help="Classes per episode (default: every test class).")
@click.option("--cross-condition", is_flag=True, help="Support from one recording condition, queries from the others.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="JSON/TOML method config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override one config key.")
@click.option("--dev", is_flag=True,
              help="Tune, don't test: run the split inside the first fold's training rows (docs/protocols.md).")
@click.option("--out", "out_path", type=click.Path(), help="Results JSON path.")  # str: keeps a trailing '/' to refuse
@device_options
def run(method, dataset, split, shots, episodes, seed, ways, cross_condition, dev, config_path, overrides, out_path,
        device, precision, deterministic) -> None:
    """Evaluate METHOD on DATASET under SPLIT and write a results JSON."""
    known_names(method, split)  # a typo is refused in a second, before torch is imported
    from fsbench import python_api
    from fsbench.boards.tables import results_table
    from fsbench.names import default_results_path, output_file

    tag = ("-xc" if cross_condition else "") + ("-dev" if dev else "")
    path = output_file(out_path or default_results_path(method, dataset, split, tag, seed))  # before the work
    results = python_api.run(
        method=method, dataset=dataset, split=split, shots=parse_shots(shots), episodes=episodes, seed=seed,
        ways=ways, cross_condition=cross_condition, config=load_config(config_path, overrides), dev=dev,
        device=device, precision=precision, deterministic=deterministic,
    )
    results.write(path)
    out.print(results_table(results.document))
    out.print(f"results written to {path}", markup=False, highlight=False)


@click.command()
@click.option("--methods", default=None, help="Comma-separated methods (default: pixels + every method with a demo config).")
@click.option("--episodes", default=20, show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), help="Methods run at once, one process each (default: CPU cores).")
@device_options
def demo(methods: str | None, episodes: int, jobs: int | None, device: str | None, precision: str,
         deterministic: bool) -> None:
    """The whole pipeline on the embedded Omniglot sets: 20-way unseen-class, S=1 and 5, ending in an HTML board."""
    from fsbench.cli.demo import run_demo

    run_demo(methods.split(",") if methods else None, episodes, jobs=jobs,
             where={"device": device, "precision": precision, "deterministic": deterministic})


@click.command()
@click.option("--method", "-m", required=True, help="Registered method with an inference graph (e.g. hand2vec).")
@click.option("--dataset", "-d", required=True)
@click.option("--split", "-s", required=True)
@click.option("--fold", default=0, show_default=True, help="Fold index whose training view fits the model.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="JSON/TOML method config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override one config key.")
@click.option("--out", "out_path", type=click.Path(), default="model.onnx", show_default=True)
@device_options
def export(method, dataset, split, fold, seed, config_path, overrides, out_path, device, precision,
           deterministic) -> None:
    """Fit METHOD on one fold (cache hit after `fsbench run`) and export images → embeddings to ONNX."""
    known_names(method, split)
    from fsbench.deploy.export import export_method

    from fsbench.names import output_file

    from fsbench.device import resolve

    where = resolve(device, precision, deterministic)  # the fit's; the graph itself is exported on the CPU
    info = export_method(method, dataset, split, fold, output_file(out_path), load_config(config_path, overrides), seed,
                         placement=where)
    out.print(f"wrote {info['path']} (fold {info['fold']}; ONNX Runtime vs eager max |Δ| = "
              f"{info['max_abs_diff']:.2e} on {info['images_checked']} test images)", markup=False, highlight=False)
