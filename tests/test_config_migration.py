"""Flat legacy configs (what the boards stored before typed configs) → typed configs, meaning kept.

The input is every distinct config the committed boards held before the migration
(tests/fixtures/legacy_board_configs.json). Each legacy value must arrive at its new key unchanged,
each value the flat form left to the code must be the one that code used, and the migrated
boards must carry exactly the hash the new code computes, with the old one beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fsbench import registry
from fsbench.api import canonical_hash, method_hash
from fsbench.boards.migrate import migrate_board, migrate_entry
from fsbench.configs import as_dict, from_stored, get

ROOT = Path(__file__).resolve().parents[1]
LEGACY = json.loads((ROOT / "tests" / "fixtures" / "legacy_board_configs.json").read_text())["configs"]
BOARDS = sorted((ROOT / "leaderboards").glob("*.json"))

#: values the version-1 code used without a config key naming them (HEAD_DEFAULTS, LOOP_DEFAULTS
#: and `config.get(key, default)` in the code of the time): a migrated config must hold the same
_HEAD = {"head.name": "dualpath", "head.warmup_lr": 1e-5, "head.momentum": 0.9, "head.weight_decay": 5e-4}
_SGD_BACKBONE = {"warmup_lr": 1e-5, "momentum": 0.9, "weight_decay": 4e-5}
IMPLICIT: dict[str, dict[str, object]] = {
    "hand2vec": {**_HEAD, **{f"backbone.{k}": v for k, v in _SGD_BACKBONE.items()}},
    "hand2vec-ft": {**_HEAD, **{f"{s}.{k}": v for s in ("backbone", "train") for k, v in _SGD_BACKBONE.items()}},
    "mediapipe-landmarks": {**_HEAD, "head.squeeze": 0, "head.input_norm": False, "head.alpha_min": 0.0},
}


def _same(a, b) -> bool:
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


@pytest.mark.parametrize("legacy", LEGACY, ids=[f"{r['method']}@{r['config_hash'][:8]}" for r in LEGACY])
def test_each_legacy_value_arrives_at_its_new_key_unchanged(legacy):
    assert canonical_hash({"method": legacy["method"], "version": legacy["version"], **legacy["config"]}) == legacy["config_hash"]
    cls = registry.get("methods", legacy["method"])
    if cls.config_class is None:  # a plain-dict method keeps its flat form
        assert cls.stored_config(legacy["config"]) == legacy["config"]
        return
    typed = from_stored(cls.config_class, legacy["config"], legacy["method"])
    moved = cls.config_class.legacy_keys
    for key, value in legacy["config"].items():
        assert _same(get(typed, moved.get(key, key)), value), f"{key} → {moved.get(key, key)}"
    named = {moved.get(k, k) for k in legacy["config"]}
    for key, value in IMPLICIT.get(legacy["method"], {}).items():
        assert key not in named and _same(get(typed, key), value), key
    # every other value is the default today, and was then: the version did not change
    assert cls.version == legacy["version"]


def _early(config: dict, late: dict | None) -> dict:
    """`config` without the late keys that hold their default (what a plain-dict method's hash covers)."""
    return {k: v for k, v in config.items() if not late or k not in late or v != late[k]}


@pytest.mark.parametrize("board_path", BOARDS, ids=lambda p: p.stem)
def test_the_committed_boards_hold_the_migrated_configs_and_hashes(board_path):
    board = json.loads(board_path.read_text())
    assert migrate_board(board) == board  # nothing left to migrate
    by_legacy = {r["config_hash"]: r for r in LEGACY}
    for entry in board["entries"]:
        m = entry["method"]
        cls = registry.get("methods", m["name"])
        late = None if cls.config_class else cls.late_keys
        assert m["config_hash"] == method_hash(m["name"], m["version"], m["config"], late)
        assert m["config_hash"] == cls(cls.stored_config(m["config"])).config_hash  # what `fsbench run` records
        old = by_legacy.get(m.get("legacy_config_hash", m["config_hash"]))
        if old is None:  # published after the migration, in today's form: nothing older to compare with
            assert "legacy_config_hash" not in m
            continue
        assert old["method"] == m["name"]
        # the migration of what was there; a run published since records the late keys at their
        # defaults, which the hash leaves out (the same hash as its legacy twin): compare without them
        assert _early(m["config"], late) == _early(cls.stored_config(old["config"]), late)


def test_migrating_an_entry_keeps_its_first_hash_and_is_idempotent():
    legacy = next(r for r in LEGACY if r["method"] == "hand2vec")
    entry = {"method": {"name": "hand2vec", "version": legacy["version"], "config": legacy["config"],
                        "config_hash": legacy["config_hash"]}, "metrics": {"S=1": {}}}
    once = migrate_entry(entry)
    assert once["method"]["legacy_config_hash"] == legacy["config_hash"] != once["method"]["config_hash"]
    assert once["metrics"] == entry["metrics"] and migrate_entry(once) == once
    cls = registry.get("methods", "hand2vec")
    assert once["method"]["config"] == as_dict(cls.make_config(once["method"]["config"]))


def test_an_entry_is_still_found_by_the_hash_it_was_published_under():
    from fsbench.boards.leaderboard import find_entry

    boards = ROOT / "leaderboards" / "retired"  # the board it was migrated on, kept as it was
    _, _, entry = find_entry("massey__leave-signer-out/hand2vec@b65248f4", boards)  # its hash before the migration
    assert entry["method"]["legacy_config_hash"].startswith("b65248f4")
    assert find_entry(f"massey__leave-signer-out/hand2vec@{entry['method']['config_hash'][:8]}", boards)[2] == entry


def test_a_plain_dict_entry_with_late_keys_migrates_to_itself():
    """A baseline run records every late key (n0 at its old value, a recipe set): migration hashes it
    as the run did, or a fresh board would read as needing migration and never verify."""
    from fsbench.evaluation.runner import make_method

    method = make_method("finetune", {"classifier": "prototype", "recipe": {"stages": 2, "views": 4}})
    entry = {"method": {"name": method.name, "version": method.version, "config": method.config_dict(),
                        "config_hash": method.config_hash}}
    assert "n0" in entry["method"]["config"]  # a late key at its old value: left out of the hash
    assert migrate_entry(entry) is entry
