"""Sweep files and plural flags → cells, cell identity and results paths (nothing is run here)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fsbench.cli.sweep import _flags_table
from fsbench.sweep.cells import identify
from fsbench.sweep.spec import SweepError, expand, load_sweep


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_axes_multiply_and_runs_override_the_top_level(tmp_path):
    _, cells = load_sweep(write(tmp_path, """
dataset = "omniglot"
split = "unseen-class"
ways = 20
shots = [5, 1]
seeds = [0, 1]
config = { size = 28 }

[[run]]
methods = ["pixels", "protonet"]

[[run]]
method = "hand2vec"
episodes = 50
seed = 3
grid = { "head.features" = [8, 12] }
"""))
    got = [(c.method, c.seed, c.config, c.episodes, c.shots, c.ways) for c in cells]
    assert got == [
        ("pixels", 0, {"size": 28}, 10, (1, 5), 20), ("pixels", 1, {"size": 28}, 10, (1, 5), 20),
        ("protonet", 0, {"size": 28}, 10, (1, 5), 20), ("protonet", 1, {"size": 28}, 10, (1, 5), 20),
        ("hand2vec", 3, {"size": 28, "head": {"features": 8}}, 50, (1, 5), 20),
        ("hand2vec", 3, {"size": 28, "head": {"features": 12}}, 50, (1, 5), 20),
    ]


def test_the_plural_flags_give_the_same_cells_as_the_file(tmp_path):
    _, from_file = load_sweep(write(tmp_path, """
methods = ["pixels", "protonet"]
dataset = "omniglot"
split = "unseen-class"
shots = [1, 5]
ways = 20
episodes = 10
seeds = [0, 1, 2]
"""))
    table = _flags_table(method="pixels,protonet", dataset="omniglot", split="unseen-class", shots="1,5",
                         episodes=10, seeds="0,1,2", ways=20, cross_condition=False, dev=False, config_path=None,
                         overrides=(), grid=())
    assert expand({}, table, "the command line") == from_file
    assert len(from_file) == 6


@pytest.mark.parametrize("text, message", [
    ('method = "pixels"\ndataset = "omniglot"\nsplit = "x"\nepisode = 3', "unknown key(s) ['episode']"),
    ('method = "pixels"\nmethods = ["protonet"]\ndataset = "d"\nsplit = "x"', "both `method` and `methods`"),
    ('method = "pixels"\nsplit = "x"', "names no dataset"),
    ('method = "pixels"\ndataset = "d"\nsplit = "x"\nseeds = [-1]', "seed -1 must be an integer ≥ 0"),
    ('method = "pixels"\ndataset = "d"\nsplit = "x"\nepisodes = true', "episodes True must be an integer ≥ 1"),
    ('method = "pixels"\ndataset = "d"\nsplit = "x"\nways = 1', "ways 1 must be an integer ≥ 2"),
    ('method = "pixels"\ndataset = "d"\nsplit = "x"\ngrid = { size = 3 }', "grid.size must be a non-empty list"),
    ('method = "pixels"\ndataset = "d"\nsplit = "x"\nconfig = { size = 3 }\ngrid = { size = [3] }', "both in `config`"),
    ('method = "pixels"\ndataset = "d"\nsplit = "x"\nseeds = [0, 0]', "cells 1 and 2 are the same run"),
    ('method = "pixels"\ndataset = "d"\nsplit = "x"\n[[run]]\ncpus = 0', "cpus 0 must be an integer ≥ 1"),
    ('method = "pixels" dataset', "is not valid TOML"),
])
def test_a_bad_sweep_file_is_one_line_naming_the_problem(tmp_path, text, message):
    with pytest.raises(SweepError) as info:
        load_sweep(write(tmp_path, text))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_identity_follows_what_decides_the_numbers_not_the_cpus(tiny_dir, tmp_path):
    _, specs = load_sweep(write(tmp_path, f"""
method = "pixels"
dataset = "{tiny_dir}"
split = "leave-signer-out"
seeds = [0, 1]
"""))
    base = identify(specs, tmp_path / "out")
    assert base[0].key != base[1].key  # seed
    assert base[0].path == tmp_path / "out" / f"pixels__tiny__leave-signer-out__seed0__{base[0].key[:12]}.json"
    variants = [replace(specs[0], cpus=2), replace(specs[0], shots=(1,)), replace(specs[0], episodes=3),
                replace(specs[0], config={"size": 16}), replace(specs[0], cross_condition=True)]
    keys = [c.key for c in identify(variants, tmp_path / "out")]
    assert keys[0] == base[0].key and len(set(keys[1:]) | {base[0].key}) == 5


def test_an_unknown_config_key_fails_the_sweep_before_anything_runs(tiny_dir, tmp_path):
    _, specs = load_sweep(write(tmp_path, f"""
method = "pixels"
dataset = "{tiny_dir}"
split = "leave-signer-out"
config = {{ sise = 16 }}
"""))
    with pytest.raises(SweepError, match=r"cell pixels on tiny/leave-signer-out \(seed 0\): .*sise"):
        identify(specs, tmp_path)
