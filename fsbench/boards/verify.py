"""`fsbench verify`: re-run a board entry from its manifest and compare with what the board claims.

`publish` checks that a file's numbers agree with its own per-episode rows; only a re-run checks
that the rows themselves are what the method does. The entry's manifest names everything a run
needs (method + config, dataset, split, S values, episodes, seed, ways, cross-condition), so
the re-run is the same request; its dataset content, split and episode hashes must match the
manifest's, and each re-run top-1 is reported against the entry's 95 % CI. Entries are
re-verifiable whenever the dataset is at hand: boards keep no per-episode rows, so older
entries published before `publish` recomputed numbers are checked this way, not on load.

A whole board is checked the same way against the folder `fsbench sweep <boards>/sweeps/B.toml
--out DIR` filled (`verify_runs`): each entry's cells are found in DIR by the sweep's own cell
identity, so a regenerated board is compared entry by entry without running anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsbench import registry
from fsbench.errors import FsbenchError, ResultsError
from fsbench.boards.leaderboard import find_entry, make_entry, read_board, resolve_board


class NotReproduced(FsbenchError):
    """A re-run that disagrees with its board entry (exit code 1: the board, not the input, is wrong)."""

    exit_code = 1


@dataclass
class Verification:
    board: str
    method: str
    config_hash: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # per S: claimed, re-run, Δ, inside CI
    mismatches: list[str] = field(default_factory=list)  # manifest hashes that differ
    missing: str = ""  # with --runs: the results file the sweep has not written yet


def request_for(board: dict[str, Any], entry: dict[str, Any], dataset: str | None = None):
    """The `RunRequest` an entry's manifest describes (a config stored before typed configs is migrated)."""
    from fsbench.record.shots import shots_of
    from fsbench.evaluation.runner import RunRequest

    man = entry["manifest"]
    if "episodes" not in man:
        raise ResultsError(f"entry {entry['method']['name']} on {board['name']} records no episode count; "
                           "it cannot be re-run from its manifest")
    return RunRequest(
        method=entry["method"]["name"], dataset=dataset or board["dataset"]["name"], split=board["split"]["name"],
        shots=shots_of(entry["metrics"]), episodes=man["episodes"], seed=man["seed"],
        ways=board["protocol"]["ways"], cross_condition=board["protocol"]["cross_condition"],
        config=registry.get("methods", entry["method"]["name"]).stored_config(entry["method"]["config"]),
    )


def compare(board: dict[str, Any], entry: dict[str, Any], rerun: dict[str, Any]) -> Verification:
    """The entry made from a re-run (`make_entry`, pooled over seeds where the entry is) against the
    board's `entry`: manifest hashes, then each S's top-1 against the entry's CI."""
    man, new = entry["manifest"], rerun["manifest"]
    out = Verification(board["name"], entry["method"]["name"], entry["method"]["config_hash"])
    pairs = [
        ("dataset content hash", man["dataset_content_hash"], new["dataset_content_hash"]),
        ("split manifest", man["split_manifest_sha256"], new["split_manifest_sha256"]),
        ("config hash", entry["method"]["config_hash"], rerun["method"]["config_hash"]),
    ]
    pairs += [(f"episode set {k}", v, new["episodes_sha256"].get(k)) for k, v in man["episodes_sha256"].items()]
    out.mismatches = [f"{what} {have[:12]}… ≠ {got[:12] if got else 'none'}…" for what, have, got in pairs if have != got]
    for key, claimed in entry["metrics"].items():
        got = rerun["metrics"][key]["top1"]["mean"]
        lo, hi = claimed["top1"]["ci95"]
        out.rows.append({
            "shots": key, "claimed": claimed["top1"]["mean"], "ci95": [lo, hi], "rerun": got,
            "delta": got - claimed["top1"]["mean"], "inside_ci": lo - 1e-9 <= got <= hi + 1e-9,
        })
    return out


def verify_entry(spec: str, boards_dir: Path, dataset: str | None = None) -> Verification:
    """Re-run the entry `spec` names and compare; raises `NotReproduced` only from `check`."""
    from fsbench.evaluation.runner import run

    _, board, entry = find_entry(spec, boards_dir)
    return compare(board, entry, make_entry(run(request_for(board, entry, dataset))))


def verify_runs(target: str, boards_dir: Path, runs: Path, dataset: str | None = None) -> list[Verification]:
    """One entry (`BOARD/METHOD[@HASH]`, `BOARD#RANK`) or every entry of a board (`BOARD`) against
    the results files a sweep wrote to `runs`; an entry whose cells are not there is reported as not run."""
    from fsbench.boards.aggregate import over_seeds
    from fsbench.record.integrity import read_checked
    from fsbench.sweep.from_board import entry_cells

    if "/" in target or "#" in target:
        _, board, entry = find_entry(target, boards_dir)
        entries = [entry]
    else:
        board = read_board(resolve_board(target, boards_dir))
        entries = board["entries"]
    found = []
    for entry in entries:
        cells = entry_cells(board, entry, Path(runs), dataset)
        missing = [c.path.name for c in cells if not c.path.is_file()]
        if missing:
            found.append(Verification(board["name"], entry["method"]["name"], entry["method"]["config_hash"],
                                      missing=missing[0]))
            continue
        docs = [read_checked(c.path) for c in cells]  # an edited file is refused, never compared
        rerun = make_entry(docs[0])
        if len(docs) > 1:
            rerun = over_seeds(rerun, docs, [str(c.path) for c in cells])
        found.append(compare(board, entry, rerun))
    return found


def reason(v: Verification) -> str:
    """Why `v` does not reproduce ('' when it does)."""
    if v.missing:
        return "not run"
    outside = [r["shots"] for r in v.rows if not r["inside_ci"]]
    parts = ([f"manifest differs ({'; '.join(v.mismatches[:2])})"] if v.mismatches else []) + (
        [f"re-run top-1 outside the entry's 95 % CI at {', '.join(outside)}"] if outside else [])
    return "; ".join(parts)


def check(found: list[Verification]) -> None:
    """One line naming every entry that does not reproduce, and why (exit code 1)."""
    failed = [(v, why) for v in found if (why := reason(v))]
    if not failed:
        return
    if len(found) == 1 and not failed[0][0].missing:
        v, why = failed[0]
        raise NotReproduced(f"{v.method}@{v.config_hash[:8]} on {v.board} does not reproduce: {why}")
    parts = [f"{v.method}@{v.config_hash[:8]} ({why})" for v, why in failed if not v.missing]
    if not_run := [f"{v.method}@{v.config_hash[:8]}" for v, _ in failed if v.missing]:
        parts.append(f"not run yet: {', '.join(not_run)} (finish the board's sweep into the --runs folder)")
    raise NotReproduced(f"{len(failed)} of {len(found)} entries on {found[0].board} are not reproduced: " + "; ".join(parts))
