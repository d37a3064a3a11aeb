"""The Hub path against a real Hub server (olah, tests/hub/conftest.py): a dataset and a board
pushed with `--to DIR` into its mirrors folder load back through HF_ENDPOINT with the same
content hash, identical metrics and an identical board; every bad input is one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import fsbench
from fsbench.errors import HubError
from fsbench.testing import TINY_CLASSES, TINY_SIGNERS, tiny_image, tiny_rows

RUN = dict(method="pixels", split="leave-signer-out", shots=[1, 2], episodes=3)
FSBENCH = [sys.executable, "-c", "from fsbench.cli import main; main()"]


def write_noisy(out: Path) -> Path:
    """The tiny dataset with every fourth image drawn from the next class (a fresh draw, so no two
    signers share a picture): pixels scores below 100 %, so identical metrics mean something."""
    from fsbench.data.cards import DatasetCard
    from fsbench.data.records import PrepareReport
    from fsbench.data.store import write_prepared

    rows = tiny_rows(per_cell=4)
    for i, row in enumerate(rows):
        if i % 4 == 3:
            label, signer = TINY_CLASSES.index(row["label"]), TINY_SIGNERS.index(row["signer"])
            row["image"] = tiny_image((label + 1) % len(TINY_CLASSES), signer, 1000 + i)
    card = DatasetCard(name="noisy", title="Noisy bars", description="test fixture", license="CC0", citation="none",
                       classes=("a", "b", "c", "d"), signers=("s1", "s2", "s3"), raw_layout="synthetic",
                       image_size=24, condition_column="condition")
    write_prepared(rows, out, card, {}, PrepareReport(dataset="noisy", raw="synthetic"))
    return out


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FSBENCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def pushed(hub_server, tmp_path_factory):
    """A dataset pushed into the server's mirrors folder by `fsbench push --to DIR`; (folder, commit)."""
    local = write_noisy(tmp_path_factory.mktemp("pushed") / "noisy")
    return local, fsbench.push(local, str(hub_server.repo_dir("fsb/noisy"))).revision  # the CLI's own output:
    # tests/hub/test_hub_export.py


@pytest.fixture
def hub_env(hub_server, tmp_path, monkeypatch):
    """This process talks to the server, with a cold private HF cache (fsbench reads both per call)."""
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    return hub_server


def test_run_through_the_hub_matches_the_local_folder(hub_server, pushed, tmp_path):
    local, revision = pushed
    here = fsbench.run(dataset=str(local), **RUN)
    out = tmp_path / "hub.json"
    proc = cli(["run", "--method", "pixels", "--dataset", f"hub:fsb/noisy@{revision}", "--split", RUN["split"],
                "--shots", "1,2", "--episodes", "3", "--out", str(out)], hub_server.env(tmp_path / "hf"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    there = fsbench.Results.read(out)
    assert there.content_hash == here.content_hash
    assert there.document["dataset"]["revision"] == revision and here.document["dataset"]["revision"] == "local"
    for key in ("metrics", "episodes", "split", "protocol"):
        assert there.document[key] == here.document[key], key
    assert 0.3 < here.top1(1) < 1.0  # not a trivial score: equality above compares real numbers


def test_third_party_load_dataset_reads_the_pushed_repo(hub_server, pushed, tmp_path):
    """The repo is a plain Hub dataset: `datasets.load_dataset` reads it through the server too."""
    _, revision = pushed
    code = ("import datasets, json; ds = datasets.load_dataset('fsb/noisy', revision=%r, split='train'); "
            "print(json.dumps([len(ds), ds.features['label'].names]))" % revision)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=hub_server.env(tmp_path / "hf"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-800:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [48, ["a", "b", "c", "d"]]


def test_board_round_trip(hub_server, pushed, tmp_path):
    local, _ = pushed
    boards, results = tmp_path / "boards", tmp_path / "r.json"
    fsbench.run(dataset=str(local), **RUN).write(results)
    proc = cli(["publish", str(results), "--boards", str(boards), "--to", str(hub_server.repo_dir("fsb/boards"))],
               hub_server.env(tmp_path / "hf"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    revision = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("revision:"))
    name = "noisy__leave-signer-out"
    assert [b["board"] for b in fsbench.leaderboard(boards=boards)] == [name]
    local_json = fsbench.leaderboard(name, boards, format="json")
    env = hub_server.env(tmp_path / "hf2")
    for args in (["leaderboard", f"hub:fsb/boards@{revision}", "--format", "json"],
                 ["leaderboard", name, "--boards", f"hub:fsb/boards@{revision}", "--format", "json"]):
        proc = cli(args, env, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == local_json
    assert json.loads((hub_server.repo_dir("fsb/boards") / f"{name}.json").read_text()) == \
        json.loads((boards / f"{name}.json").read_text())


def test_bad_hub_inputs_are_one_line_each(hub_env, pushed, tmp_path, monkeypatch):
    _, revision = pushed
    cases = {
        "hub:fsb/noisy@" + "0" * 40: "has no revision",
        "hub:fsb/noisy@nosuchbranch": "has no revision 'nosuchbranch'",
        "hub:fsb/missing@main": "no dataset repo fsb/missing",
    }
    for spec, expected in cases.items():
        with pytest.raises(HubError) as err:
            fsbench.load_dataset(spec)
        assert expected in str(err.value) and "\n" not in str(err.value), str(err.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match=r"not in the local Hugging Face cache .* HF_HUB_OFFLINE is set") as err:
        fsbench.load_dataset(f"hub:fsb/noisy@{revision}")
    assert "\n" not in str(err.value)


def test_offline_with_a_warm_cache_needs_no_server(hub_env, pushed, monkeypatch):
    _, revision = pushed
    online = fsbench.load_dataset(f"hub:fsb/noisy@{revision}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", hub_env.dead_url())
    offline = fsbench.load_dataset(f"hub:fsb/noisy@{revision}")
    assert (offline.content_hash, offline.revision, len(offline)) == (online.content_hash, revision, 48)


@pytest.mark.parametrize("case", ["server down", "missing repo", "wrong revision", "offline, cold cache"])
def test_cli_says_one_line(hub_server, pushed, tmp_path, case):
    """What a user sees at the command line (`fsbench leaderboard hub:…` imports no torch: fast)."""
    _, revision = pushed
    env = hub_server.env(tmp_path / "hf")
    spec, expected = {
        "server down": ("hub:fsb/noisy@main", "cannot be reached"),
        "missing repo": ("hub:fsb/missing@main", "no dataset repo fsb/missing"),
        "wrong revision": ("hub:fsb/noisy@" + "f" * 40, "has no revision"),
        "offline, cold cache": (f"hub:fsb/noisy@{revision}", "HF_HUB_OFFLINE is set"),
    }[case]
    if case == "server down":
        env["HF_ENDPOINT"] = hub_server.dead_url()
    if case.startswith("offline"):
        env["HF_HUB_OFFLINE"] = "1"
    proc = cli(["leaderboard", spec], env, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and expected in proc.stderr, proc.stderr
