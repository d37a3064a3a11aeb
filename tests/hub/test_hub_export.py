"""`push --to DIR` / `publish --to DIR`: git repositories in the Hub's dataset layout, committed on
main, the commit printed; refusals that protect what is not fsbench's; `--to hub:` uploads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import fsbench
from fsbench.cli import cli
from fsbench.data.git_repo import RepoError
from fsbench.testing import write_tiny


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_push_to_dir_commits_the_hub_layout_and_prints_the_revision(tiny_dir, tmp_path):
    dest = tmp_path / "mirrors" / "datasets" / "me" / "tiny"
    result = CliRunner().invoke(cli, ["push", str(tiny_dir), "--to", str(dest)])
    assert result.exit_code == 0, result.output
    head = git(dest, "rev-parse", "HEAD")
    assert f"revision: {head}" in result.output and f"hub:me/tiny@{head}" in result.output
    assert git(dest, "symbolic-ref", "--short", "HEAD") == "main" and git(dest, "status", "--porcelain") == ""
    assert git(dest, "ls-files").split() == ["README.md", "data/train-00000-of-00001.parquet", "fsbench.json"]
    card = yaml.safe_load((dest / "README.md").read_text().split("---")[1])
    assert card["configs"][0]["data_files"][0]["path"] == "data/train-*"
    split = card["dataset_info"]["splits"][0]
    assert split["name"] == "train" and split["num_examples"] == 48 and split["num_bytes"] > 0
    loaded = fsbench.load_dataset(str(dest))  # the repo is a prepared folder too
    assert loaded.content_hash == fsbench.load_dataset(str(tiny_dir)).content_hash

    again = fsbench.push(tiny_dir, str(dest))
    assert (again.revision, again.changed) == (head, False)  # same content: no new commit


def test_a_new_version_replaces_the_old_shards_in_a_new_commit(tmp_path):
    dest = tmp_path / "repo"
    first = fsbench.push(write_tiny(tmp_path / "a", per_cell=4), str(dest))
    second = fsbench.push(write_tiny(tmp_path / "b", per_cell=3), str(dest))
    assert second.changed and second.revision != first.revision and second.content_hash != first.content_hash
    assert git(dest, "rev-list", "--count", "HEAD") == "2"
    assert len(fsbench.load_dataset(str(dest))) == 36


@pytest.mark.parametrize("setup, message", [
    (lambda d: (d.mkdir(), (d / "notes.txt").write_text("mine")), "is not a git repository"),
    (lambda d: (_repo(d), (d / "README.md").write_text("edited")), "uncommitted changes"),
    (lambda d: (_repo(d), _commit(d, "src/main.py")), "tracks files that are not part of"),
    (lambda d: (_repo(d), git(d, "checkout", "-q", "-b", "dev")), "not branch main"),
    (lambda d: d.write_text("a file"), "is a file, not a folder"),
])
def test_push_refuses_what_it_would_damage(tiny_dir, tmp_path, setup, message):
    dest = tmp_path / "target"
    setup(dest)
    before = sorted(p.name for p in dest.iterdir()) if dest.is_dir() else None
    head = git(dest, "rev-parse", "HEAD") if (dest / ".git").exists() else None
    with pytest.raises(RepoError, match=message) as err:
        fsbench.push(tiny_dir, str(dest))
    assert "\n" not in str(err.value)
    if before is not None:
        assert sorted(p.name for p in dest.iterdir()) == before
    if head is not None:
        assert git(dest, "rev-parse", "HEAD") == head


def _repo(d: Path) -> None:
    d.mkdir()
    git(d, "init", "-q", "-b", "main")
    _commit(d, "README.md")


def _commit(d: Path, rel: str) -> None:
    (d / rel).parent.mkdir(parents=True, exist_ok=True)
    (d / rel).write_text("x")
    git(d, "add", rel)
    git(d, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x")


def test_publish_to_dir_keeps_other_boards_and_lists_them(tiny_dir, tmp_path):
    boards, dest = tmp_path / "boards", tmp_path / "board-repo"
    runs = [fsbench.run(method="pixels", dataset=str(tiny_dir), split=split, shots=[1], episodes=2)
            for split in ("leave-signer-out", "same-signer")]
    first = fsbench.publish(runs[0], boards, to=str(dest))
    second = fsbench.publish(runs[1], boards, to=str(dest))
    names = ["tiny__leave-signer-out", "tiny__same-signer"]
    # the second board's sibling page gains a signer-gap column: it is exported again, not left stale
    assert first.export.boards == (names[0],) and second.export.boards == tuple(names)
    files = git(dest, "ls-files").split()
    assert files == sorted(["README.md", *(f"{n}.{ext}" for n in names for ext in ("html", "json")),
                            *(f"sweeps/{n}.toml" for n in names)])
    card = yaml.safe_load((dest / "README.md").read_text().split("---")[1])
    assert card["fsbench"] == {"kind": "leaderboards", "boards": names}
    assert (dest / f"{names[0]}.json").read_bytes() == (boards / f"{names[0]}.json").read_bytes()
    assert "<table" in (dest / f"{names[1]}.html").read_text()
    from fsbench.boards.hub import export_boards

    again = export_boards([boards / f"{n}.json" for n in names], str(dest))  # nothing changed: no commit
    assert (again.revision, again.changed) == (second.export.revision, False)


class FakeApi:
    """Stands in for huggingface_hub.HfApi: records what an online push would upload."""

    calls: list = []

    def __init__(self, endpoint=None, **_):
        self.endpoint = endpoint

    def create_repo(self, repo_id, **kw):
        FakeApi.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, folder_path, repo_id, **kw):
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file())
        FakeApi.calls.append(("upload_folder", repo_id, files, kw))
        return type("Commit", (), {"oid": "c0ffee" * 6 + "c0ff"})()

    def list_repo_files(self, repo_id, **kw):
        return ["README.md", "old__board.json"]


def test_to_hub_uploads_the_same_files(tiny_dir, tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    FakeApi.calls = []
    pushed = fsbench.push(tiny_dir, "hub:me/tiny")
    assert pushed.revision.startswith("c0ffee")
    (_, repo, kw), (_, repo2, files, up) = FakeApi.calls
    assert repo == repo2 == "me/tiny" and kw["repo_type"] == "dataset" and kw["exist_ok"]
    assert files == ["README.md", "data/train-00000-of-00001.parquet", "fsbench.json"]
    assert up["repo_type"] == "dataset" and up["delete_patterns"] == ["data/*.parquet"]
