"""Board entries written before typed configs → today's form, meaning kept.

An entry stored its method's flat config (`head_epochs: 30`) and the hash of that dict. Migrated,
it holds the nested config the method's typed config makes of it (`head: {epochs: 30, ...}`, by
the config class's `legacy_keys`, values unchanged; values the flat form did not name take the
defaults the code used then, which are today's) and `config_hash` is that object's hash as
`fsbench run` computes it now, so `fsbench verify` compares a re-run with the entry. The old hash
stays as `legacy_config_hash`: references to `METHOD@OLDHASH` still find the entry. Metrics,
manifests and dates are not touched.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from fsbench import registry
from fsbench.api import method_hash


def migrate_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """`entry` with its config in today's form and the hash of it (unchanged when already current)."""
    m = entry["method"]
    cls = registry.get("methods", m["name"])
    config = cls.stored_config(m["config"])
    new_hash = method_hash(m["name"], m["version"], config, None if cls.config_class else cls.late_keys)
    if config == m["config"] and new_hash == m["config_hash"]:
        return entry
    out = copy.deepcopy(entry)
    out["method"]["config"] = config
    out["method"]["config_hash"] = new_hash
    if new_hash != m["config_hash"]:  # the first migration keeps the hash the entry was published under
        out["method"].setdefault("legacy_config_hash", m["config_hash"])
    return out


def migrate_board(board: dict[str, Any]) -> dict[str, Any]:
    """Every entry of `board` migrated (`migrate_entry`); the board's own fields unchanged."""
    return {**board, "entries": [migrate_entry(e) for e in board["entries"]]}


def migrate_board_file(path: Path) -> bool:
    """Rewrite the board at `path` (and its sweep file) in today's form; True when anything changed."""
    from fsbench.boards.leaderboard import board_lock, read_board, write_board

    with board_lock(path):
        board = read_board(path)
        new = migrate_board(board)
        if new == board:
            return False
        write_board(path, new)
    return True
