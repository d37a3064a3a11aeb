"""`fsbench verify`: re-run a board entry from its manifest and compare with what the board claims.

`publish` checks that a file's numbers agree with its own per-episode rows; only a re-run checks
that the rows themselves are what the method does. The entry's manifest names everything a run
needs (method + config, dataset, split, S values, episodes, seed, ways, cross-condition), so
the re-run is the same request; its dataset content, split and episode hashes must match the
manifest's, and each re-run top-1 is reported against the entry's 95 % CI. Entries are
re-verifiable whenever the dataset is at hand: boards keep no per-episode rows, so older
entries published before `publish` recomputed numbers are checked this way, not on load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsbench.errors import FsbenchError, ResultsError
from fsbench.results.leaderboard import find_entry


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

    @property
    def ok(self) -> bool:
        return not self.mismatches and all(r["inside_ci"] for r in self.rows)


def request_for(board: dict[str, Any], entry: dict[str, Any], dataset: str | None = None):
    """The `RunRequest` an entry's manifest describes."""
    from fsbench.evaluation.metrics import shots_of
    from fsbench.evaluation.runner import RunRequest

    man = entry["manifest"]
    if "episodes" not in man:
        raise ResultsError(f"entry {entry['method']['name']} on {board['name']} records no episode count; "
                           "it cannot be re-run from its manifest")
    return RunRequest(
        method=entry["method"]["name"], dataset=dataset or board["dataset"]["name"], split=board["split"]["name"],
        shots=shots_of(entry["metrics"]), episodes=man["episodes"], seed=man["seed"],
        ways=board["protocol"]["ways"], cross_condition=board["protocol"]["cross_condition"],
        config=dict(entry["method"]["config"]),
    )


def compare(board: dict[str, Any], entry: dict[str, Any], results: dict[str, Any]) -> Verification:
    """The re-run `results` against the entry: manifest hashes, then each S's top-1 against its CI."""
    man = entry["manifest"]
    out = Verification(board["name"], entry["method"]["name"], entry["method"]["config_hash"])
    pairs = [
        ("dataset content hash", man["dataset_content_hash"], results["dataset"]["content_hash"]),
        ("split manifest", man["split_manifest_sha256"], results["split"]["manifest_sha256"]),
        ("config hash", entry["method"]["config_hash"], results["method"]["config_hash"]),
    ]
    pairs += [(f"episode set {k}", v, results["protocol"]["episodes_sha256"].get(k))
              for k, v in man["episodes_sha256"].items()]
    out.mismatches = [f"{what} {have[:12]}… ≠ {got[:12] if got else 'none'}…" for what, have, got in pairs if have != got]
    for key, claimed in entry["metrics"].items():
        got = results["metrics"][key]["top1"]["mean"]
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
    return compare(board, entry, run(request_for(board, entry, dataset)))


def check(v: Verification) -> None:
    """One line saying why an entry does not reproduce (exit code 1)."""
    if v.ok:
        return
    outside = [r["shots"] for r in v.rows if not r["inside_ci"]]
    parts = ([f"manifest differs ({'; '.join(v.mismatches[:2])})"] if v.mismatches else []) + (
        [f"re-run top-1 outside the entry's 95 % CI at {', '.join(outside)}"] if outside else [])
    raise NotReproduced(f"{v.method}@{v.config_hash[:8]} on {v.board} does not reproduce: {'; '.join(parts)}")
