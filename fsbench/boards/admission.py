"""What a results file must show, beyond its own integrity, to become a board entry.

`fsbench.record.integrity` checks a file against itself (every reader does); admission checks it
against the world: it is not a development run, however its flag was edited, and it does not
replace a larger entry. These read the data stack and the boards, so they live on the top floor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fsbench.errors import FsbenchError, ResultsError
from fsbench.names import read_input
from fsbench.record.shots import shots_in


def known_content_hashes(name: str, boards_dir: Path) -> set[str]:
    """Content hashes of dataset `name` this machine knows: its boards and its prepared copy."""
    from fsbench import paths

    found = set()
    for path in Path(boards_dir).glob("*.json"):
        try:
            board = json.loads(read_input(path, "leaderboard"))
            if board["dataset"]["name"] == name:
                found.add(board["dataset"]["content_hash"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError, FsbenchError):
            continue
    meta = paths.prepared_dir(name) / "fsbench.json" if "/" not in name and ".." not in name else None
    if meta is not None and meta.is_file():
        try:
            found.add(json.loads(read_input(meta, "dataset metadata"))["content_hash"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError, FsbenchError):
            pass
    return found


def check_not_development(results: dict[str, Any], source: str, known: Iterable[str]) -> None:
    """Refuse a development run, however its flag was edited."""
    from fsbench.protocol.devset import dev_content_hash  # imports the data stack: only when publishing

    d, split, proto = results["dataset"], results["split"], results["protocol"]
    fix = "publish the run without --dev (development runs tune on training data and never rank)"
    if proto.get("development"):
        raise ResultsError(f"{source} is a development run (--dev, tuning data only); {fix}")
    if d["name"].endswith("-dev"):
        raise ResultsError(f"{source} was run on the development set {d['name']!r}; {fix}")
    for real in known:
        if dev_content_hash(real, split["name"], split["seed"]) == d["content_hash"]:
            raise ResultsError(
                f"{source}: its dataset content hash is that of the development set of {d['name']} "
                f"({real[:12]}…); {fix}"
            )
    card = _card(d["name"])
    if card is not None and card.signers and split["folds"]:
        seen = {s for f in split["folds"] for s in (*f["train_signers"], *f["test_signers"])}
        missing = sorted(set(card.signers) - seen)
        if missing:
            raise ResultsError(
                f"{source}: its folds leave out signer(s) {missing[:5]} of the {d['name']} card, as a "
                f"development run does; {fix}"
            )


def _card(name: str):
    from fsbench.data.loader import registered_card
    from fsbench.errors import FsbenchError

    try:
        return registered_card(name)
    except FsbenchError:
        return None


def check_replacement(old: dict[str, Any], new: dict[str, Any], source: str) -> None:
    """An entry may only be replaced by one with at least its episodes, seeds and every S it had."""
    old_eps, new_eps = old["manifest"].get("episodes", 0), new["manifest"]["episodes"]
    old_seeds, new_seeds = len(old.get("seeds") or [0]), len(new.get("seeds") or [0])
    lost = sorted(set(old["metrics"]) - set(new["metrics"]), key=shots_in)
    if new_eps < old_eps or new_seeds < old_seeds or lost:
        what = []
        if new_eps < old_eps:
            what.append(f"{new_eps} episodes instead of {old_eps}")
        if new_seeds < old_seeds:
            what.append(f"{new_seeds} seed{'s' * (new_seeds > 1)} instead of {old_seeds} (publish the sweep folder)")
        if lost:
            what.append(f"no {', '.join(lost)}")
        raise ResultsError(
            f"{source} would replace {new['method']['name']}'s entry (config {new['method']['config_hash'][:8]}) "
            f"with a smaller run ({'; '.join(what)}); publish with --replace to do it anyway"
        )
