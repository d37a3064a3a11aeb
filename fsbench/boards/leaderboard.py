"""Leaderboards: one JSON file per (dataset, split, protocol), built from published results.

A board only holds entries that are comparable: they share the dataset content hash and the
split manifest hash (so the same images, the same folds, the same seed). `publish` refuses
anything else with a one-line `ResultsError`, replaces an earlier entry of the same method and
config, and writes atomically, so a crash never leaves a half-written board.

Board names are `<dataset>__<split>` with `-xc` for cross-condition runs and `-<N>way` when an
episode samples N classes (N-way and all-way accuracies are different quantities).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from filelock import FileLock, Timeout

from fsbench.atomic import write_many
from fsbench.errors import ResultsError
from fsbench.record.shots import main_shots, shot_key, shots_in
from fsbench.names import inside, output_dir, regular_target, safe_name
from fsbench.boards import admission, identity
from fsbench.record import integrity
from fsbench.boards.aggregate import over_seeds
from fsbench.record.integrity import finite_numbers
from fsbench.record.document import read_json, read_results

BOARD_VERSION = 1
BOARD_SCHEMA = Path(__file__).parent / "schema" / "leaderboard.schema.json"
#: per-S keys copied from a results file into a board entry (the rest stays in the results file)
ENTRY_METRIC_KEYS = ("top1", "top2", "n_queries", "n_episodes", "no_detection")
#: how a command names one entry: BOARD/METHOD[@CONFIG_HASH] or BOARD#RANK
ENTRY = re.compile(r"^(?P<board>[^/#@]+)(?:/(?P<method>[^@]+)(?:@(?P<hash>[0-9a-f]{1,64}))?|#(?P<rank>\d+))$")
#: how long a publish waits for another one to finish with the same board
LOCK_TIMEOUT_S = 120.0


@cache
def board_schema() -> dict[str, Any]:
    return json.loads(BOARD_SCHEMA.read_text())


def board_name(results: dict[str, Any]) -> str:
    """The board a results file belongs on, e.g. `massey__leave-signer-out-xc`."""
    proto = results["protocol"]
    name = f"{results['dataset']['name']}__{results['split']['name']}"
    if proto.get("cross_condition"):
        name += "-xc"
    if proto.get("ways"):
        name += f"-{proto['ways']}way"
    return name


def check_manifest(results: dict[str, Any], source: str) -> None:
    """Refuse results that cannot be reproduced: every provenance field must be filled in."""
    missing = []
    if not results["dataset"].get("revision"):
        missing.append("dataset.revision")
    if results["fsbench"].get("git_commit") in (None, "", "unknown"):
        missing.append("fsbench.git_commit (run from a git checkout)")
    if not results["fsbench"].get("version"):
        missing.append("fsbench.version")
    ep_hashes = results["protocol"].get("episodes_sha256", {})
    for key in results["metrics"]:
        if key not in ep_hashes:
            missing.append(f"protocol.episodes_sha256[{key}]")
    if "total_s" not in results.get("timings", {}):
        missing.append("timings.total_s")
    for key in ("cpu", "device", "platform"):
        if not results.get("hardware", {}).get(key):
            missing.append(f"hardware.{key}")
    if missing:
        raise ResultsError(
            f"{source} has an incomplete manifest (missing {', '.join(missing)}); "
            "re-create it with `fsbench run`"
        )


def make_entry(results: dict[str, Any]) -> dict[str, Any]:
    """A board entry: method identity, per-S metrics with CIs, and the reproduction manifest."""
    m = results["method"]
    metrics = {}
    for key, value in results["metrics"].items():
        entry = {k: value[k] for k in ENTRY_METRIC_KEYS if k in value}
        entry["per_signer_top1"] = {s: v["top1"] for s, v in value.get("per_signer", {}).items()}
        metrics[key] = entry
    proto, fs = results["protocol"], results["fsbench"]
    return {
        "method": {
            "name": m["name"],
            "version": m["version"],
            "config": m["config"],
            "config_hash": m["config_hash"],
            "support_source": m.get("support_source"),
            "distribution": m.get("distribution"),
            # whether it learns from the data: a trained method's entry pools ≥ 3 seeds (from_board)
            **({"trains": m["trains"]} if "trains" in m else {}),
            # outside weights are named on the board: what they are and what they were trained on
            **({"pretrained": m["pretrained"]} if m.get("pretrained") else {}),
        },
        "metrics": dict(sorted(metrics.items(), key=lambda kv: shots_in(kv[0]))),
        "manifest": {
            "dataset_revision": results["dataset"]["revision"],
            "dataset_content_hash": results["dataset"]["content_hash"],
            "split_manifest_sha256": results["split"]["manifest_sha256"],
            "episodes_sha256": proto["episodes_sha256"],
            "episodes": proto["episodes"],
            "seed": proto["seed"],
            "code_version": fs["version"],
            "git_commit": fs["git_commit"],
            "git_dirty": bool(fs.get("git_dirty", False)),
            "hardware": results["hardware"],
            "libraries": results.get("libraries", {}),
            "wall_time_s": results["timings"]["total_s"],
        },
        "date": results["created"],
    }


def new_board(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "board_version": BOARD_VERSION,
        "name": board_name(results),
        "dataset": {"name": results["dataset"]["name"], "content_hash": results["dataset"]["content_hash"]},
        "split": {
            "name": results["split"]["name"],
            "seed": results["split"]["seed"],
            "manifest_sha256": results["split"]["manifest_sha256"],
        },
        "protocol": {
            "cross_condition": bool(results["protocol"]["cross_condition"]),
            "ways": results["protocol"]["ways"],
        },
        "updated": "",
        "entries": [],
    }


def board_of(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A board held in memory from comparable results (the demo's), ranked as `publish` ranks;
    nothing is verified, published or written."""
    board = new_board(results[0])
    for r in results:
        check_compatible(board, r, r["method"]["name"])
    board["entries"] = [make_entry(r) for r in results]
    main = main_shots(board)
    board["entries"].sort(key=lambda e: _sort_key(e, main))
    board["updated"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return board


def read_board(path: Path) -> dict[str, Any]:
    """Load and validate a board; a corrupt one is a one-line error, never a traceback."""
    path = Path(path)
    board = read_json(path, "leaderboard", "`fsbench publish RESULTS.json` creates it",
                      f"restore it from git (`git checkout -- {path}`)")
    validator = jsonschema.Draft202012Validator(board_schema())
    error = next(iter(sorted(validator.iter_errors(board), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "<top level>"
        raise ResultsError(
            f"leaderboard {path} is not a valid fsbench board at {where}: {error.message[:160]}; "
            f"restore it from git"
        )
    finite_numbers(board, f"leaderboard {path}", "restore it from git")
    return board


def _short(h: str) -> str:
    return h[:12] + "…"


def check_compatible(board: dict[str, Any], results: dict[str, Any], source: str) -> None:
    """Same dataset content and same split manifest, or the numbers are not comparable."""
    name = board["name"]
    have, got = board["dataset"]["content_hash"], results["dataset"]["content_hash"]
    if have != got:
        raise ResultsError(
            f"{source}: dataset content hash {_short(got)} differs from board {name}'s {_short(have)} "
            f"(a different dataset version); re-run on the board's dataset or publish to another --boards folder"
        )
    have, got = board["split"]["manifest_sha256"], results["split"]["manifest_sha256"]
    if have != got:
        raise ResultsError(
            f"{source}: split manifest hash {_short(got)} differs from board {name}'s {_short(have)} "
            f"(different folds or --seed; the board uses seed {board['split']['seed']}); "
            f"re-run with --seed {board['split']['seed']}"
        )


def verified(results_path: Path, boards_dir: Path) -> dict[str, Any]:
    """A results file through every check `publish` makes before it touches a board: its own
    integrity (`integrity.read_checked`, as every reader), a full manifest, safe names, not a
    development run, and its identity recomputed (`fsbench.boards.identity`)."""
    source = str(results_path)
    results = read_results(results_path)
    finite_numbers(results, source)
    if results["protocol"].get("development"):
        raise ResultsError(f"{source} is a development run (--dev, tuning data only); publish the run without --dev")
    check_manifest(results, source)
    safe_name(results["dataset"]["name"], f"{source}: dataset.name")
    safe_name(results["split"]["name"], f"{source}: split.name")
    integrity.check(results, source)  # what `integrity.read_checked` checks for every reader
    admission.check_not_development(
        results, source, admission.known_content_hashes(results["dataset"]["name"], Path(boards_dir))
    )
    identity.check_identity(results, source)
    return results


def publish(results_path: Path, boards_dir: Path, replace: bool = False, seeds: Sequence[Path] = ()) -> Path:
    """Validate a results file and add (or replace) its entry on its board; return the board path.
    `seeds`: the same run under other seeds (a sweep's cells), pooled into one entry."""
    return publish_all([[Path(results_path), *map(Path, seeds)]], boards_dir, replace)[0]


def publish_all(entries: Sequence[Sequence[Path]], boards_dir: Path, replace: bool = False) -> list[Path]:
    """Publish several entries (each: results files of one run, one per seed) all or nothing; return
    each entry's board path.

    Every file is verified (`verified`) and every entry made first; then, holding the lock of every
    board involved (concurrent publishes lose no entry), each board is merged in memory and its
    sweep file built, and only then are all files written (`write_many`). A refused file, a board
    that cannot take an entry (`check_compatible`, a smaller replacement without `replace`) or a
    config the sweep file cannot hold leaves every board as it was. Entries pool their seeds with
    the spread over seeds beside the CI (`fsbench.boards.aggregate`).
    """
    boards_dir = output_dir(boards_dir, "--boards")
    staged: list[tuple[Path, dict[str, Any], dict[str, Any], str]] = []
    for first, *seeds in entries:
        results = verified(first, boards_dir)
        entry = make_entry(results)
        if seeds:
            entry = over_seeds(entry, [results, *(verified(p, boards_dir) for p in seeds)], [str(first), *map(str, seeds)])
        name = f"{board_name(results)}.json"
        regular_target(boards_dir / name, "board")  # a FIFO, a device, a loop or a dangling link, named as such
        path = inside(boards_dir, name, "board")
        staged.append((path, results, entry, str(first)))
    with ExitStack() as locks:
        boards: dict[Path, dict[str, Any]] = {}
        for path in sorted({p for p, *_ in staged}):
            locks.enter_context(board_lock(path))
            boards[path] = read_board(path) if path.exists() else None
        for path, results, entry, source in staged:
            boards[path] = add_entry(boards[path] or new_board(results), results, entry, source, replace)
        files = {name: text for path, board in boards.items() for name, text in board_files(path, board).items()}
        write_many(files)
    return [path for path, *_ in staged]


def add_entry(board: dict[str, Any], results: dict[str, Any], entry: dict[str, Any], source: str,
              replace: bool) -> dict[str, Any]:
    """`board` with `entry` added, or in place of the entry of the same method and config."""
    check_compatible(board, results, source)
    ident = (entry["method"]["name"], entry["method"]["config_hash"])
    old = [e for e in board["entries"] if (e["method"]["name"], e["method"]["config_hash"]) == ident]
    if old and not replace:
        admission.check_replacement(old[0], entry, source)
    board["entries"] = [e for e in board["entries"] if (e["method"]["name"], e["method"]["config_hash"]) != ident]
    board["entries"].append(entry)
    main = main_shots(board)
    board["entries"].sort(key=lambda e: _sort_key(e, main))
    return board


def withdraw(spec: str, boards_dir: Path) -> dict[str, Any]:
    """Remove one entry (`BOARD/METHOD[@CONFIG_HASH]` or `BOARD#RANK`, as `fsbench verify` takes
    it) from its board, e.g. a row superseded by the method's new default; return it."""
    path, _, entry = find_entry(spec, boards_dir)
    with board_lock(path):
        board = read_board(path)  # re-read under the lock: another publish may have landed
        if entry not in board["entries"]:
            raise ResultsError(f"{spec}: the entry changed while withdrawing it (a publish landed); run it again")
        board["entries"].remove(entry)
        write_board(path, board)
    return entry


def write_board(path: Path, board: dict[str, Any]) -> None:
    """Stamp and write a board and its sweep file (`fsbench.sweep.from_board`) in one step."""
    write_many(board_files(path, board))


def board_files(path: Path, board: dict[str, Any]) -> dict[Path, str]:
    """A board, stamped, and the sweep file beside it, as text: built in full before anything is
    written, so a config the sweep file cannot hold refuses the publish instead of half-doing it."""
    from fsbench.sweep.from_board import board_sweep, sweep_path

    board["updated"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    sweep = board_sweep(board, boards=path.parent.as_posix())
    return {path: json.dumps(board, indent=1, allow_nan=False) + "\n", sweep_path(path): sweep}


@contextmanager
def board_lock(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """An exclusive lock on one board (a hidden `.NAME.json.lock` beside it) for read-modify-write."""
    lock = FileLock(path.with_name(f".{path.name}.lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise ResultsError(
            f"leaderboard {path} stayed locked by another `fsbench publish` for {timeout:.0f} s; "
            f"wait for it to finish and publish again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _sort_key(entry: dict[str, Any], main: int | None) -> tuple:
    m = entry["metrics"].get(shot_key(main))
    if m is None:
        return (1, 0.0, entry["method"]["name"])
    return (0, -m["top1"]["mean"], entry["method"]["name"])


def find_entry(spec: str, boards_dir: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """(board path, board, entry) for `BOARD/METHOD[@CONFIG_HASH]` or `BOARD#RANK`; the hash may also be
    the one an entry was published under before its config was migrated (`legacy_config_hash`)."""
    m = ENTRY.match(spec)
    if m is None:
        raise ResultsError(f"entry {spec!r} is not BOARD/METHOD[@CONFIG_HASH] or BOARD#RANK, "
                           f"e.g. massey__leave-signer-out/pixels or massey__leave-signer-out#1")
    path = resolve_board(m["board"], boards_dir)
    board = read_board(path)
    entries = board["entries"]
    if m["rank"] is not None:
        rank = int(m["rank"])
        if not 1 <= rank <= len(entries):
            raise ResultsError(f"board {board['name']} has {len(entries)} entries; no rank {rank}")
        return path, board, entries[rank - 1]
    found = [e for e in entries if e["method"]["name"] == m["method"]
             and any(e["method"].get(k, "").startswith(m["hash"] or "") for k in ("config_hash", "legacy_config_hash"))]
    if len(found) != 1:
        names = ", ".join(f"{e['method']['name']}@{e['method']['config_hash'][:8]}" for e in entries) or "none"
        what = "no entry" if not found else f"{len(found)} entries (add @CONFIG_HASH)"
        raise ResultsError(f"board {board['name']} has {what} for {spec!r}; entries: {names}")
    return path, board, found[0]


def resolve_board(board: str, boards_dir: Path) -> Path:
    """A board name (`massey__leave-signer-out`) or a path to a board file."""
    candidate = Path(board)
    if candidate.suffix == ".json" and os.path.lexists(candidate):  # a loop or a FIFO: read_board names it
        return candidate
    path = Path(boards_dir) / f"{board.removesuffix('.json')}.json"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(Path(boards_dir).glob("*.json"))) or "none"
        raise ResultsError(f"no leaderboard {board!r} in {boards_dir}; boards there: {known}")
    return path
