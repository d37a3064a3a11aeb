"""A cell's identity and its results file: what makes a re-run skip it, and nothing else.

The identity hash covers everything that decides a cell's numbers — method and full config (its
`config_hash`, which includes the method's version), the dataset's content hash, split, seed, shots,
episodes, ways, cross-condition, --dev, a precision other than fp32, and the code version (fsbench's
and the method's distribution's) — but not the CPUs or GPU it ran on, the backend or the git commit, so
a sweep resumes across machines and commits; bump a version (or delete the file) to recompute.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from fsbench import __version__, registry
from fsbench.api import canonical_hash
from fsbench.errors import FsbenchError
from fsbench.evaluation.runner import make_method
from fsbench.names import inside, safe_name
from fsbench.record.integrity import read_checked
from fsbench.sweep.spec import CellSpec, SweepError


@dataclass(frozen=True)
class Cell:
    spec: CellSpec
    key: str  # identity hash (SHA-256 of the canonical identity)
    name: str  # file stem: readable, then the key's first 12 hex digits
    path: Path  # the results file, exactly what `fsbench run --out PATH` would write
    dataset_hash: str
    config_hash: str


def code_version(distribution: str) -> dict[str, str]:
    try:
        plugin = metadata.version(distribution)
    except (metadata.PackageNotFoundError, ValueError):
        plugin = "unknown"
    return {"fsbench": __version__, distribution: plugin}


def identity(spec: CellSpec, dataset_hash: str, config_hash: str, distribution: str) -> dict[str, Any]:
    """A reduced precision changes the numbers, so it is part of the identity (fp32, today's, adds
    nothing: existing cells keep their keys); the device is not, as the CPUs are not."""
    return {
        "method": spec.method, "config_hash": config_hash, "dataset_content_hash": dataset_hash,
        "split": spec.split, "seed": spec.seed, "shots": list(spec.shots), "episodes": spec.episodes,
        "ways": spec.ways, "cross_condition": spec.cross_condition, "dev": spec.dev,
        "code_version": code_version(distribution),
        **({"precision": spec.precision} if spec.precision != "fp32" else {}),
    }


def identify(specs: list[CellSpec], out_dir: Path) -> list[Cell]:
    """Cells with keys and paths; each dataset is resolved once (prepared if needed) for its hash.

    Methods are instantiated here, so an unknown method, split or config key fails the whole
    sweep in one line before anything runs.
    """
    from fsbench.data.hub import resolve_dataset

    datasets: dict[str, tuple[str, str]] = {}
    cells = []
    for spec in specs:
        if spec.dataset not in datasets:
            data = resolve_dataset(spec.dataset)
            datasets[spec.dataset] = (data.name, data.content_hash)
        name, content = datasets[spec.dataset]
        registry.find("splits", spec.split)
        try:
            method = make_method(spec.method, spec.config)
        except FsbenchError as exc:
            raise SweepError(f"cell {spec.method} on {name}/{spec.split} (seed {spec.seed}): {exc}") from None
        key = canonical_hash(identity(spec, content, method.config_hash, method.distribution))
        tag = (f"-{spec.ways}way" if spec.ways else "") + ("-xc" if spec.cross_condition else "") + (
            "-dev" if spec.dev else "") + (f"-{spec.precision}" if spec.precision != "fp32" else "")
        stem = f"{spec.method}__{name}__{spec.split}{tag}__seed{spec.seed}__{key[:12]}"
        path = inside(Path(out_dir), f"{safe_name(stem, 'results file name')}.json", "results file")
        cells.append(Cell(spec, key, stem, path, content, method.config_hash))
    return cells


def is_done(cell: Cell) -> bool:
    """True when the cell's results file is there, valid, and from this cell's method, data and protocol.

    A torn, invalid, edited (summaries that its rows do not give: `integrity.read_checked`) or
    foreign file is not trusted: the cell runs again and replaces it.
    """
    if not cell.path.is_file():
        return False
    try:
        results = read_checked(cell.path)
    except FsbenchError:
        return False
    # the key in the file name already pins the config; a method may resolve "auto" settings
    # while fitting, so the config hash inside the file need not equal the one asked for
    return (results["method"]["name"] == cell.spec.method
            and results["dataset"]["content_hash"] == cell.dataset_hash
            and results["protocol"]["seed"] == cell.spec.seed
            and sorted(results["protocol"]["shots"]) == list(cell.spec.shots)
            and results["protocol"]["episodes"] == cell.spec.episodes)
