"""`fsbench publish` is all or nothing, takes only a sweep folder's current cells, and recomputes the
identity a results file claims (issue 25 cases 4, 5 and 10)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from fsbench import registry
from fsbench.api import canonical_hash
from fsbench.testing import write_tiny
from harness import fsbench, install_plugin, load, refused, tree

#: a method whose config holds a list that may contain null (a real method, installed for this module)
LISTY = """
import torch
from torch.nn import functional as F

from fsbench import registry
from fsbench.api import Method
from fsbench.cost import TrainingWork


class Listy(Method):
    # a plugin that keeps a plain-dict config: pixels' embedding, plus a list-valued key
    name = "listy"
    version = "1"
    trains = False
    default_config = {"size": 16, "mode": "L", "widths": None}

    def training_work(self, train, seed):
        return TrainingWork()

    def embed(self, view):
        chunks = [F.normalize(b.flatten(1), dim=1) for b in view.tensors(self.config["size"], self.config["mode"])]
        return torch.cat(chunks) if chunks else torch.empty(0, 0)

    def make_classifier(self):
        return registry.classifier("prototype")
"""


@pytest.fixture(scope="module")
def listy(tmp_path_factory):
    root = tmp_path_factory.mktemp("listy")
    install_plugin(root, "hostile-listy", {"hostile_listy": LISTY}, {"methods": {"listy": "hostile_listy:Listy"}})
    sys.path.insert(0, str(root))
    registry.refresh()
    yield
    sys.path.remove(str(root))
    sys.modules.pop("hostile_listy", None)
    registry.refresh()


def _run(tiny_dir, out, *extra):
    o = fsbench("run", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1", "--out", out, *extra)
    assert o.rc == 0, o.err
    return out


@pytest.mark.parametrize("board_before", ["no-board", "board-with-an-entry"])
def test_a_null_in_a_config_list_publishes_nothing(board_before, listy, tiny_dir, tmp_path):
    """The sweep file cannot hold [2, null]: refused before the board is written, not after."""
    boards = tmp_path / "boards"
    if board_before == "board-with-an-entry":
        assert fsbench("publish", _run(tiny_dir, tmp_path / "p.json", "-m", "pixels", "--set", "size=3"),
                       "--boards", boards).rc == 0
    before = tree(boards) if boards.exists() else {}
    results = _run(tiny_dir, tmp_path / "l.json", "-m", "listy", "--set", "size=3", "--set", "widths=[2,null]")
    refused(fsbench("publish", results, "--boards", boards), "listy@", "'widths' = [2, null]", "nothing was published")
    assert (tree(boards) if boards.exists() else {}) == before


@pytest.mark.parametrize("bad", ["dev-run", "forged-run"])
def test_a_folder_with_one_bad_run_publishes_none_of_it(bad, tiny_dir, tiny_results_path, tmp_path):
    """The good run sorts first: it used to be published before the bad one was refused."""
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "a-good.json").write_text(tiny_results_path.read_text())
    if bad == "dev-run":
        _run(tiny_dir, folder / "b-bad.json", "-m", "pixels", "--set", "size=3", "--dev")
    else:
        doc = load(tiny_results_path)
        doc["method"]["config"]["size"] = 3  # another entry …
        doc["method"]["config_hash"] = "ab" * 32  # … whose identity is forged
        (folder / "b-bad.json").write_text(json.dumps(doc))
    boards = tmp_path / "boards"
    refused(fsbench("publish", folder, "--boards", boards), "b-bad.json")
    assert not boards.exists() or tree(boards) == {}


def test_stale_cells_of_an_earlier_sweep_config_stay_off_the_board(tiny_dir, tmp_path):
    """Sweep size=3 into a folder, then size=4 into the same folder: publishing the folder puts
    the current sweep's entry on the board, not the stale one."""
    out = tmp_path / "sweep"
    for size in (3, 4):
        o = fsbench("sweep", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                    "--episodes", "1", "--set", f"size={size}", "--out", out)
        assert o.rc == 0, o.err
    assert len([p for p in out.glob("*.json") if p.name != "sweep.json"]) == 2
    boards = tmp_path / "boards"
    with pytest.warns(UserWarning, match="1 results file.* not among the cells of its sweep.json"):  # said, not silent
        o = fsbench("publish", out, "--boards", boards)
    assert o.rc == 0, o.err
    (board,) = boards.glob("*.json")
    assert [e["method"]["config"]["size"] for e in load(board)["entries"]] == [4]


def test_a_sweep_summary_that_is_not_one_is_one_line(tiny_results_path, tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "a.json").write_text(tiny_results_path.read_text())
    (folder / "sweep.json").write_text('{"cells": [{"results": "../../etc/passwd"}]}')
    refused(fsbench("publish", folder, "--boards", tmp_path / "b"), "sweep.json")
    assert not (tmp_path / "b").exists()


def _relabel(split: str, rehash: bool):
    def change(r):
        r["split"]["name"] = split
        if rehash:  # the forger recomputes the manifest hash too: only drawing the folds again tells
            s = r["split"]
            s["manifest_sha256"] = canonical_hash({"split": s["name"], "seed": s["seed"], "folds": s["folds"]})
    return change


def _episode_hash(r):
    r["protocol"]["episodes_sha256"]["S=1"] = "cd" * 32


#: identity edits: (edit, needle, whether the dataset must be at hand to catch it)
IDENTITY = {
    "split-relabelled": (_relabel("same-signer", False), "split.manifest_sha256 is not the hash", False),
    "split-relabelled-and-rehashed": (_relabel("same-signer", True), "its folds are not what split 'same-signer'", True),
    "split-unknown-rehashed": (_relabel("no-such-split", True), "not an installed split", False),
    "fold-kind-edited": (lambda r: r["split"]["folds"][0].update(kind="same-signer"), "split.manifest_sha256", False),
    "renamed-protonet": (lambda r: r["method"].update(name="protonet"), "protonet", False),
    "renamed-unknown": (lambda r: r["method"].update(name="no-such-method"), "not installed here", False),
    "config-hash-arbitrary": (lambda r: r["method"].update(config_hash="ab" * 32), "is not the hash of its pixels config", False),
    "config-edited": (lambda r: r["method"]["config"].update(size=5), "is not the hash of its pixels config", False),
    "config-invalid": (lambda r: r["method"]["config"].update(size="huge"), "not one method 'pixels' accepts", False),
    "version-edited": (lambda r: r["method"].update(version="99"), "this machine has '1'", False),
    "distribution-edited": (lambda r: r["method"].update(distribution="evil-corp"), "'evil-corp'", False),
    "trains-edited": (lambda r: r["method"].update(trains=True), "method.trains True is not what pixels says", False),
    "episode-set-edited": (_episode_hash, "its episode set at S=1 is not the one", True),
}


@pytest.fixture(scope="module")
def home_with_tiny(tmp_path_factory):
    """An FSBENCH_HOME holding the tiny dataset prepared under its name: the dataset is at hand."""
    home = tmp_path_factory.mktemp("home")
    write_tiny(home / "datasets" / "tiny")
    return home


@pytest.mark.parametrize("case", sorted(IDENTITY))
def test_identity_fields_are_recomputed_not_believed(case, tiny_results_path, home_with_tiny, tmp_path, monkeypatch):
    edit, needle, needs_data = IDENTITY[case]
    if needs_data:
        monkeypatch.setenv("FSBENCH_HOME", str(home_with_tiny))
    doc = copy.deepcopy(load(tiny_results_path))
    edit(doc)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    refused(fsbench("publish", path, "--boards", tmp_path / "b"), needle)
    assert not (tmp_path / "b").exists()


def test_an_untouched_file_with_its_dataset_at_hand_publishes(tiny_results_path, home_with_tiny, tmp_path, monkeypatch):
    """The control: drawing the folds and episodes again gives the file's own hashes."""
    monkeypatch.setenv("FSBENCH_HOME", str(home_with_tiny))
    o = fsbench("publish", tiny_results_path, "--boards", tmp_path / "b")
    assert o.rc == 0, o.err
    assert Path(tmp_path / "b" / "tiny__leave-signer-out.json").is_file()
