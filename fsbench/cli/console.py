"""What every command shares: the two consoles, and parsing of shots and method configs."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from pathlib import Path
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from fsbench.errors import FsbenchError
from fsbench.limits import MAX_SEED
from fsbench.names import read_input_text

#: every --seed: 0 … 2**32 − 1, refused by click in one line before anything runs
SEED = click.IntRange(0, MAX_SEED)

# Piped output (scripts, grep, CI logs) gets wide lines instead of rich's 80-column folding.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def parse_shots(value: str) -> list[int]:
    try:
        shots = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers, e.g. 0,1,4")
    if not shots or min(shots) < 0:
        raise click.BadParameter("shots must be integers ≥ 0, e.g. 0,1,4")
    return shots


def load_config(path: Path | None, overrides: tuple[str, ...]) -> dict[str, Any]:
    """`--config FILE` (JSON/TOML, nested tables or dotted keys) with each `--set KEY=VALUE` laid
    over it (`--set head.epochs=5`): the nested overrides the method's typed config is built from."""
    from fsbench.configs import merge, nest, parse_set
    from fsbench.record.document import parse_json

    config: dict[str, Any] = {}
    if path is not None:
        try:
            text = read_input_text(path, "config file", limit=2**24)
            config = tomllib.loads(text) if path.suffix == ".toml" else parse_json(text)  # a key twice: refused
        except (OSError, ValueError, RecursionError) as exc:
            raise FsbenchError(f"config file {path} cannot be read ({exc}); use JSON or TOML") from None
        if not isinstance(config, dict):
            raise FsbenchError(
                f"config file {path} holds a JSON {type(config).__name__}, not an object; "
                'write {"key": value, ...}'
            )
    return merge(nest(config), nest(dict(parse_set(item) for item in overrides)))


def known_names(methods: str | None, splits: str | None) -> None:
    """Refuse an unknown method or split by name (comma-separated lists allowed) from the entry
    points alone: the commands that compute import torch next, 5–10 s for a typo otherwise."""
    from fsbench import registry

    for kind, names in (("methods", methods), ("splits", splits)):
        for name in (n.strip() for n in (names or "").split(",") if n.strip()):
            registry.find(kind, name)


def command() -> str:
    """How the user can type fsbench now: `fsbench` where that is on PATH (and is this one), else
    the path that ran it, e.g. `.venv/bin/fsbench` right after `.ci/setup` without an activated venv."""
    ran = Path(sys.argv[0])
    if ran.name != "fsbench":  # python -c / -m, tests: no path to name
        return "fsbench"
    found = shutil.which("fsbench")
    if found and os.path.realpath(found) == os.path.realpath(ran):
        return "fsbench"
    try:
        return str(ran.resolve().relative_to(Path.cwd().resolve())) if not ran.is_absolute() else str(ran)
    except ValueError:
        return str(ran)


def hints(text: str) -> str:
    """`text` with every `fsbench SUBCOMMAND` it suggests named as the user can type it (`command()`)."""
    name = command()
    if name == "fsbench":
        return text
    from fsbench.cli import cli

    subcommands = "|".join(sorted(map(re.escape, cli.commands), key=len, reverse=True))
    return re.sub(rf"(?<![\w./-])fsbench(?= (?:{subcommands})\b)", name, text)


def device_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--device, --precision and --deterministic (fsbench/device.py), for every command that computes."""
    deterministic = click.option("--deterministic", is_flag=True, help="Bitwise-repeatable GPU runs (cuDNN, "
                                 "deterministic algorithms, cuBLAS workspace); slower.")
    precision = click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32",
                             show_default=True, help="Float format of training and embedding (bf16/fp16: "
                             "autocast; fp16 needs a GPU).")
    device = click.option("--device", metavar="auto|cpu|cuda|cuda:N|mps", envvar="FSBENCH_DEVICE",
                          help="Where to compute (default: $FSBENCH_DEVICE, else auto: CUDA, else MPS, else the CPU).")
    return device(precision(deterministic(command)))
