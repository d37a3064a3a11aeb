"""The public Python API, served at the package top (`fsbench.run`, `fsbench.load_dataset`, …).

These functions are the supported surface (docs/python-api.md): the CLI commands call them, so
a script and `fsbench run` cannot drift apart. Everything else in the package is internal and
may move between releases (moved names warn for one release: `fsbench.deprecated`). Imports are
made inside each function, so `import fsbench` stays as light as `fsbench --help`.
"""

from __future__ import annotations

import builtins
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsbench.errors import FsbenchError, ResultsError

if TYPE_CHECKING:  # type-only: the heavy modules load when a function runs
    from fsbench.boards.hub import Exported
    from fsbench.data.dataset import FsDataset
    from fsbench.data.hub import Pushed
    from fsbench.data.records import PrepareReport
    from fsbench.record.results import Results

__all__ = ["run", "load_dataset", "prepare", "push", "get", "list", "publish", "leaderboard", "Published"]
#: how `leaderboard` renders a board (None: the board's JSON document itself)
FORMATS = (None, "rich", "markdown", "json", "html")
PATH = (str, Path)
OPTIONAL_PATH = (str, Path, type(None))


def _typed(name: str, value: Any, types: tuple[type, ...], expected: str) -> None:
    """Refuse a wrong-typed argument in one line naming it, before it reaches code that would
    fail deep inside (`os.fspath(3)`) or read it wrongly (any non-empty text is true)."""
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise FsbenchError(f"{name} must be {expected}, not {type(value).__name__} {value!r:.60}")


def run(method: str, dataset: "str | FsDataset", split: str, shots: int | Iterable[int] = (1, 5),
        episodes: int = 10, ways: int | None = None, config: dict[str, Any] | None = None, seed: int = 0,
        device: str | None = None, cross_condition: bool = False, dev: bool = False, precision: str = "fp32",
        deterministic: bool = False) -> "Results":
    """Evaluate `method` on `dataset` under `split`, as `fsbench run` does; the typed results.

    `dataset`: a registered name, a prepared folder, `hub:OWNER/NAME@REVISION`, or a dataset
    from `load_dataset`. `shots`: the S values (support examples per class); `episodes`: per
    signer and S; `ways`: classes per episode (None: every test class); `config`: method config
    overrides (validated against the method's defaults). `device`: auto (None: $FSBENCH_DEVICE, else
    auto), cpu, cuda, cuda:N or mps; `precision`: fp32, bf16 or fp16; `deterministic`: torch's flags
    for bitwise GPU reruns (fsbench.device). Nothing is written: `.write(path)` does.
    """
    from fsbench.data.dataset import FsDataset
    from fsbench.evaluation.runner import RunRequest
    from fsbench.evaluation.runner import run as run_request
    from fsbench.record.results import Results

    _typed("dataset", dataset, (str, Path, FsDataset), "a name, a folder, hub:OWNER/NAME@REVISION or an FsDataset")
    _typed("config", config, (dict, type(None)), "a dict of KEY: VALUE overrides")  # the rest: check_request
    data = None if isinstance(dataset, (str, Path)) else dataset
    request = RunRequest(
        method=method, dataset=str(dataset) if data is None else data.name, split=split, shots=_shots(shots),
        episodes=episodes, seed=seed, ways=ways, cross_condition=cross_condition, config=dict(config or {}),
        dev=dev, device=device, precision=precision, deterministic=deterministic,
    )
    return Results(run_request(request, data))


def _shots(shots: int | Iterable[int]) -> builtins.list[int]:
    values = [shots] if isinstance(shots, int) else builtins.list(shots)
    if not values or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in values):
        raise FsbenchError(f"shots must be integers ≥ 0, e.g. [0, 1, 4]; got {shots!r}")
    return sorted(set(values))


def load_dataset(dataset: str | Path) -> "FsDataset":
    """A dataset by registered name (prepared once from its raw files if needed), prepared
    folder, or `hub:OWNER/NAME@REVISION` (downloaded into the Hugging Face cache, verified)."""
    from fsbench.data.hub import resolve_dataset

    _typed("dataset", dataset, PATH, "a dataset name, a prepared folder or hub:OWNER/NAME@REVISION")
    return resolve_dataset(str(dataset))


def prepare(dataset: str, raw: str | Path | None = None, out: str | Path | None = None, push: str | None = None,
            strict: bool = False, allow_duplicates: bool = False, **options: Any) -> "PrepareReport":
    """Raw files → a prepared dataset folder (`fsbench prepare`); `options` are the builder's
    (for "folder": name, pattern, image_size, mode, title, license). Identical pictures under two
    signers are refused unless `allow_duplicates`."""
    from fsbench.data.hub import prepare_dataset

    _typed("dataset", dataset, (str,), "a registered dataset name (fsbench.list('datasets'))")
    _typed("raw", raw, OPTIONAL_PATH, "a folder of raw files or None")
    _typed("out", out, OPTIONAL_PATH, "a folder or None")
    _typed("push", push, (str, type(None)), "hub:OWNER/NAME, a local git repo DIR or None")
    _typed("strict", strict, (bool,), "True or False")
    _typed("allow_duplicates", allow_duplicates, (bool,), "True or False")
    if "name" in options:  # the documented option (`--name`); the builder calls it dataset_name
        if "dataset_name" in options:
            raise FsbenchError("give name= or dataset_name=, not both")
        options["dataset_name"] = options.pop("name")
    return prepare_dataset(dataset, raw, out, push=push, strict=strict, allow_duplicates=allow_duplicates, **options)


def push(dataset: str | Path, to: str) -> "Pushed":
    """A prepared dataset (name or folder) → `hub:OWNER/NAME` (online, needs a token) or a local
    git repo DIR in the Hub's layout; `.revision` is the commit to pin (`hub:OWNER/NAME@REV`)."""
    from fsbench.data.hub import push_dataset

    _typed("dataset", dataset, PATH, "a prepared dataset's name or folder")
    _typed("to", to, (str,), "hub:OWNER/NAME or a local git repo DIR")
    return push_dataset(dataset, to)


def get(kind: str, name: str) -> Any:
    """The registered object (class or factory) `name` of `kind` ("methods", "datasets", …)."""
    from fsbench import registry

    _typed("kind", kind, (str,), "a plugin kind: methods, backbones, heads, classifiers, splits or datasets")
    _typed("name", name, (str,), f"a registered name (fsbench.list({kind!r}))")
    return registry.get(kind, name)


@dataclass(frozen=True)
class Published:
    """What `publish` did: one (board, seeds pooled) per entry, and the export (None without `to`)."""

    entries: builtins.list[tuple[Path, int]]
    export: "Exported | None" = None

    @property
    def boards(self) -> builtins.list[Path]:
        """The boards written, each once."""
        return builtins.list(dict.fromkeys(board for board, _ in self.entries))


def publish(results: "str | Path | Results | Iterable[str | Path | Results]", boards: str | Path = "leaderboards",
            replace: bool = False, to: str | None = None) -> Published:
    """Add results to their leaderboards (numbers re-checked from their episodes, identity from its
    config), as `fsbench publish`, all or nothing; several seeds of one run, or a sweep folder (the
    cells of its sweep.json), become one entry. `to`: then export the
    boards to `hub:OWNER/NAME` or a local git repo DIR (`Published.export.revision` pins it)."""
    from fsbench.boards.aggregate import entries_of
    from fsbench.boards.hub import check_export_target, export_boards
    from fsbench.boards.leaderboard import publish_all
    from fsbench.record.results import Results

    _typed("results", results, (str, Path, Results, Iterable),
           "a results file, a sweep folder, a Results or a list of them")
    _typed("boards", boards, PATH, "the leaderboards folder")
    _typed("replace", replace, (bool,), "True or False")
    _typed("to", to, (str, type(None)), "hub:OWNER/NAME, a local git repo DIR or None")
    if to is not None:
        check_export_target(to)  # before any board is written: a refused --to must leave the boards as they were
    items = [results] if isinstance(results, (str, Path, Results)) else builtins.list(results)
    for item in items:
        _typed("each of results", item, (str, Path, Results), "a results file, a sweep folder or a Results")
    with tempfile.TemporaryDirectory(prefix="fsbench-publish-") as tmp:
        paths = [_written(r, Path(tmp), i) if isinstance(r, Results) else Path(r) for i, r in enumerate(items)]
        groups = entries_of(paths)
        # all or nothing: every file checked and every board built before any is written
        entries = [(board, len(group)) for board, group in zip(publish_all(groups, Path(boards), replace=replace), groups)]
    done = Published(entries)
    return Published(entries, export_boards(done.boards, to)) if to else done


def _written(results: "Results", folder: Path, index: int) -> Path:
    doc = results.to_dict()
    return results.write(folder / f"{index:03d}-{doc['method']['name']}-seed{doc['protocol']['seed']}.json")


def leaderboard(board: str | None = None, boards: str | Path = "leaderboards", format: str | None = None) -> Any:
    """A board (its validated JSON document) or, with no `board`, the list of boards; with
    `format` ("markdown", "json", "html"; "rich": a rich table) its rendering instead.

    `board` or `boards` may be `hub:OWNER/NAME@REVISION`: the board repo `publish --to` wrote,
    downloaded into the Hugging Face cache (a repo holding one board shows it).
    """
    from fsbench.boards import render
    from fsbench.boards.leaderboard import read_board, resolve_board

    _typed("board", board, (str, type(None)), "a board name, hub:OWNER/NAME@REVISION or None (the list)")
    _typed("boards", boards, PATH, "the leaderboards folder or hub:OWNER/NAME@REVISION")
    if format not in FORMATS:
        raise FsbenchError(f"format={format!r} is not one of {', '.join(map(repr, FORMATS))}")
    board, folder = _board_source(board, boards)
    if format is not None:
        return render.rendered(board, folder, format)
    if board is None:
        if not folder.is_dir():
            raise ResultsError(f"no leaderboards folder {folder}; publish results with `fsbench publish`")
        return render.list_boards(folder)
    return read_board(resolve_board(board, folder))


def _board_source(board: str | None, boards: str | Path) -> tuple[str | None, Path]:
    """(board name or None, local folder): a Hub board repo is downloaded first."""
    from fsbench.boards.hub import fetch_boards
    from fsbench.data.hub_repo import is_hub

    if is_hub(board):
        folder, names = fetch_boards(board)  # type: ignore[arg-type]
        return (names[0] if len(names) == 1 else None), folder
    if is_hub(str(boards)):
        return board, fetch_boards(str(boards))[0]
    return board, Path(boards)


def list(kind: str) -> builtins.list[str]:  # noqa: A001 - `fsbench.list(kind)` is the public name
    """Names registered under `kind`: methods, backbones, heads, classifiers, splits, datasets."""
    from fsbench import registry

    _typed("kind", kind, (str,), "a plugin kind: methods, backbones, heads, classifiers, splits or datasets")
    return registry.names(kind)
