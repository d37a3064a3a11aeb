"""The `fsbench` command line: click commands only, each calling one function elsewhere.

Every user or input error leaves as one line on stderr and exit code 2 (tracebacks only with
--debug), because a benchmark toolkit is run in sweeps and scripts, not read in a debugger.
"""

from __future__ import annotations

import json
import sys
import tomllib
import warnings
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from fsbench import __version__
from fsbench.errors import FsbenchError
from fsbench.runtime import tune_process

# Piped output (scripts, grep, CI logs) gets wide lines instead of rich's 80-column folding.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def _parse_shots(value: str) -> list[int]:
    try:
        shots = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers, e.g. 0,1,4")
    if not shots or min(shots) < 0:
        raise click.BadParameter("shots must be integers ≥ 0, e.g. 0,1,4")
    return shots


def _load_config(path: Path | None, overrides: tuple[str, ...]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text()
            config = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise FsbenchError(f"config file {path} cannot be read ({exc}); use JSON or TOML") from None
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise FsbenchError(f"--set {item!r} must look like KEY=VALUE")
        try:
            config[key] = json.loads(raw)
        except ValueError:
            config[key] = raw
    return config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fsbench")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """fsbench: signer-independent, low-shot fingerspelling benchmarks."""
    ctx.obj = {"debug": debug}
    tune_process()


@cli.command("list")
@click.argument("kind", required=False)
def list_cmd(kind: str | None) -> None:
    """List installed plugins (methods, backbones, heads, classifiers, splits, datasets)."""
    from fsbench import registry

    kinds = [kind] if kind else list(registry.GROUPS)
    table = Table("kind", "name", "distribution", "entry point")
    for k in kinds:
        for p in registry.plugins(k):
            table.add_row(k, p.name, p.distribution, p.value)
    out.print(table)


@cli.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(["methods", "backbones", "heads", "classifiers", "splits", "datasets"]))
def info(name: str, kind: str | None) -> None:
    """Describe one plugin: its docstring, config or dataset card."""
    from fsbench.info import describe

    out.print(describe(name, kind))


@cli.command()
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


@cli.command()
@click.option("--method", "-m", required=True, help="Registered method name (fsbench list methods).")
@click.option("--dataset", "-d", required=True, help="Dataset name, local folder or hub:owner/repo@revision.")
@click.option("--split", "-s", required=True, help="Split name (fsbench list splits).")
@click.option("--shots", default="1,5", show_default=True, help="Support examples per class, e.g. 0,1,4.")
@click.option("--episodes", default=10, show_default=True, help="Episodes per signer and S.")
@click.option("--seed", default=0, show_default=True)
@click.option("--ways", type=int, help="Classes per episode (default: every test class).")
@click.option("--cross-condition", is_flag=True, help="Support from one recording condition, queries from the others.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="JSON/TOML method config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override one config key.")
@click.option("--dev", is_flag=True,
              help="Tune, don't test: run the split inside the first fold's training rows (docs/protocols.md).")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Results JSON path.")
def run(method, dataset, split, shots, episodes, seed, ways, cross_condition, dev, config_path, overrides, out_path) -> None:
    """Evaluate METHOD on DATASET under SPLIT and write a results JSON."""
    from fsbench.evaluate import RunRequest
    from fsbench.evaluate import run as run_request
    from fsbench.results import write_results
    from fsbench.tables import results_table

    request = RunRequest(
        method=method, dataset=dataset, split=split, shots=_parse_shots(shots), episodes=episodes,
        seed=seed, ways=ways, cross_condition=cross_condition,
        config=_load_config(config_path, overrides), dev=dev,
    )
    results = run_request(request)
    tag = ("-xc" if cross_condition else "") + ("-dev" if dev else "")
    path = out_path or Path("runs") / f"{method}__{Path(dataset).name}__{split}{tag}__seed{seed}.json"
    write_results(path, results)
    out.print(results_table(results))
    out.print(f"results written to {path}")


@cli.command()
@click.option("--methods", default=None, help="Comma-separated methods (default: pixels + every method with a demo config).")
@click.option("--episodes", default=20, show_default=True)
def demo(methods: str | None, episodes: int) -> None:
    """The whole pipeline on the embedded Omniglot sets: 20-way unseen-class, S=1 and 5."""
    from fsbench.demo import run_demo

    run_demo(methods.split(",") if methods else None, episodes)


@cli.command()
@click.argument("results_path", type=click.Path(path_type=Path))
@click.option("--boards", type=click.Path(path_type=Path), default=Path("leaderboards"), show_default=True)
def publish(results_path: Path, boards: Path) -> None:
    """Validate a results file and add it to its leaderboard."""
    from fsbench.leaderboard import publish as publish_results

    board = publish_results(results_path, boards)
    out.print(f"published to {board}")


@cli.command()
@click.argument("board", required=False)
@click.option("--boards", type=click.Path(path_type=Path), default=Path("leaderboards"), show_default=True)
@click.option("--format", "fmt", type=click.Choice(["rich", "markdown", "json", "html"]), default="rich")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Write to a file instead of stdout.")
def leaderboard(board: str | None, boards: Path, fmt: str, out_path: Path | None) -> None:
    """Show a leaderboard (or list them), sorted by the main metric with 95 % CIs."""
    from fsbench.leaderboard import show

    show(board, boards, fmt, out_path, out)


@cli.command()
@click.argument("results_path", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option("--with-embeddings", is_flag=True, help="Re-fit the method on one fold for kernel-PCA and gradient figures.")
def report(results_path: Path, out_dir: Path, with_embeddings: bool) -> None:
    """Figures (confusion, accuracy-vs-S, per-signer CIs, embedding plots) for one results file."""
    from fsbench.report import make_report

    for path in make_report(results_path, out_dir, with_embeddings=with_embeddings):
        out.print(f"wrote {path}")


@cli.command()
@click.option("--method", "-m", required=True, help="Registered method with an inference graph (e.g. hand2vec).")
@click.option("--dataset", "-d", required=True)
@click.option("--split", "-s", required=True)
@click.option("--fold", default=0, show_default=True, help="Fold index whose training view fits the model.")
@click.option("--seed", default=0, show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="JSON/TOML method config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override one config key.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=Path("model.onnx"), show_default=True)
def export(method, dataset, split, fold, seed, config_path, overrides, out_path) -> None:
    """Fit METHOD on one fold (cache hit after `fsbench run`) and export images → embeddings to ONNX."""
    from fsbench.export import export_method

    info = export_method(method, dataset, split, fold, out_path, _load_config(config_path, overrides), seed)
    out.print(f"wrote {info['path']} (fold {info['fold']}; ONNX Runtime vs eager max |Δ| = "
              f"{info['max_abs_diff']:.2e} on {info['images_checked']} test images)")


def main() -> None:
    debug = "--debug" in sys.argv
    warnings.filterwarnings("default", category=UserWarning, module="fsbench")
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        err.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except FsbenchError as exc:
        if debug:
            raise
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted; completed results were already written atomically")
        sys.exit(130)
