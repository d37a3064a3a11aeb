"""`fsbench publish`: no forged number, development run, path escape or lost entry reaches a board."""

from __future__ import annotations

import copy
import json
import multiprocessing
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsbench.errors import FsbenchError
from fsbench.evaluation.runner import make_method
from fsbench.protocol.devset import dev_content_hash
from fsbench.boards import leaderboard as lb
from harness import fsbench, fuzzed, load, refused, tree



@pytest.fixture(scope="module")
def results(tiny_results_path) -> dict:
    return load(tiny_results_path)


def publish(tmp_path: Path, doc: dict | str, *extra: str):
    """Write `doc` (JSON or raw text) and publish it to tmp_path/boards; (outcome, boards dir)."""
    path = tmp_path / "r.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    boards = tmp_path / "boards"
    return fsbench("publish", path, "--boards", boards, *extra), boards


def s2(r):
    return r["metrics"]["S=2"]


MUTATIONS = {
    # path escapes: names that become board file names
    "dataset-traversal": (lambda r: r["dataset"].update(name="../../../tmp/escaped"), "not a safe name"),
    "split-traversal": (lambda r: r["split"].update(name="x/../../.."), "not a safe name"),
    "dataset-slash": (lambda r: r["dataset"].update(name="a/b"), "not a safe name"),
    "dataset-dotdot": (lambda r: r["dataset"].update(name=".."), "not a safe name"),
    "dataset-hidden": (lambda r: r["dataset"].update(name=".hidden"), "not a safe name"),
    "dataset-space": (lambda r: r["dataset"].update(name="my data"), "not a safe name"),
    "dataset-nul": (lambda r: r["dataset"].update(name="ok\x00x"), "not a safe name"),
    "dataset-long": (lambda r: r["dataset"].update(name="a" * 300), "not a safe name"),
    "dataset-absolute": (lambda r: r["dataset"].update(name="/etc/passwd"), "not a safe name"),
    "split-backslash": (lambda r: r["split"].update(name="..\\..\\x"), "not a safe name"),
    "split-markup": (lambda r: r["split"].update(name="[bold]x"), "not a safe name"),
    # forged or inconsistent numbers
    "top1-0.999": (lambda r: s2(r)["top1"].update(mean=0.999), "metrics/S=2/top1/mean"),
    "ci-inverted": (lambda r: s2(r)["top1"].update(ci95=s2(r)["top1"]["ci95"][::-1]), "metrics/S=2/top1/ci95"),
    "ci-narrowed": (lambda r: s2(r)["top1"].update(ci95=[s2(r)["top1"]["mean"]] * 2), "metrics/S=2/top1/ci95"),
    "top2-raised": (lambda r: s2(r)["top2"].update(mean=1.0), "metrics/S=2/top2/mean"),
    "n-queries": (lambda r: s2(r).update(n_queries=s2(r)["n_queries"] * 10), "metrics/S=2/n_queries"),
    "n-episodes": (lambda r: s2(r).update(n_episodes=99), "metrics/S=2/n_episodes"),
    "per-signer": (lambda r: s2(r)["per_signer"]["s1"].update(top1=1.0), "per_signer/s1/top1"),
    "per-signer-ci": (lambda r: s2(r)["per_signer"]["s2"].update(top1_ci95=[0.0, 1.0]), "per_signer/s2/top1_ci95"),
    "per-fold": (lambda r: s2(r)["per_fold"]["signer=s3"].update(top1=0.5), "per_fold/signer=s3/top1"),
    "mean-as-string": (lambda r: s2(r)["top1"].update(mean="0.9"), "not valid fsbench results"),
    "row-over-queries": (lambda r: r["episodes"][0].update(top1_correct=10_000, top2_correct=10_000), "claims 10000 top-1"),
    "row-top1-over-top2": (lambda r: r["episodes"][1].update(top1_correct=r["episodes"][1]["n_query"], top2_correct=0),
                           "top-2 hits"),
    "row-negative": (lambda r: r["episodes"][2].update(top1_correct=-1), "episodes/2/top1_correct"),
    "row-bool": (lambda r: r["episodes"][2].update(n_query=True), "episodes/2/n_query"),
    "row-float": (lambda r: r["episodes"][2].update(top2_correct=1.5), "episodes/2/top2_correct"),
    "row-all-correct": (lambda r: [e.update(top1_correct=e["n_query"], top2_correct=e["n_query"]) for e in r["episodes"]],
                        "disagree with the per-episode rows"),
    "row-dropped": (lambda r: r["episodes"].pop(), "episode rows at S=2"),
    "row-duplicated": (lambda r: r["episodes"].append(dict(r["episodes"][0])), "episode rows at S=1"),
    "rows-emptied": (lambda r: r["episodes"].clear(), "disagree"),
    "episodes-inflated": (lambda r: r["protocol"].update(episodes=10), "10 episodes over 3 signer groups make 30"),
    "shots-added": (lambda r: r["protocol"].update(shots=[1, 2, 5]), "disagree"),
    "metrics-S-added": (lambda r: r["metrics"].update({"S=5": copy.deepcopy(s2(r))}), "episodes_sha256[S=5]"),
    "seed-edited": (lambda r: r["protocol"].update(seed=1), "disagree with the per-episode rows"),
    "nan-mean": (lambda r: s2(r)["top1"].update(mean=float("nan")), "holds nan at metrics/S=2/top1/mean"),
    "inf-ci": (lambda r: s2(r)["top2"].update(ci95=[0.1, float("inf")]), "metrics/S=2/top2/ci95/1"),
    "nan-timing": (lambda r: r["timings"].update(total_s=float("nan")), "holds nan at timings/total_s"),
    "nan-hardware": (lambda r: r["hardware"].update(extra=float("-inf")), "holds -inf at hardware/extra"),
    # development runs, however the flag was edited
    "dev-flag": (lambda r: r["protocol"].update(development=True), "is a development run"),
    "dev-name": (lambda r: r["dataset"].update(name="tiny-dev"), "development set 'tiny-dev'"),
    "dev-hash": (lambda r: r["dataset"].update(content_hash=dev_content_hash(r["dataset"]["content_hash"], "leave-signer-out", 0)),
                 "content hash is that of the development set"),
    "dev-missing-signers": (lambda r: r["dataset"].update(name="massey"), "leave out signer(s)"),
    # an incomplete manifest
    "git-unknown": (lambda r: r["fsbench"].update(git_commit="unknown"), "incomplete manifest"),
    "no-episode-hash": (lambda r: r["protocol"]["episodes_sha256"].pop("S=1"), "episodes_sha256[S=1]"),
    "no-revision": (lambda r: r["dataset"].update(revision=""), "not valid fsbench results"),
    "no-hardware": (lambda r: r["hardware"].update(cpu=""), "hardware.cpu"),
    # third audit: fields the schema typed but did not hold to their meaning
    "created-not-a-date": (lambda r: r.update(created="not a date"), "not an ISO 8601 date-time"),
    "class-names-repeated": (lambda r: r["dataset"].update(class_names=["a", "a", "c", "d"]), "non-unique"),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_forged_or_unsafe_results_are_refused(case, results, tmp_path):
    mutate, needle = MUTATIONS[case]
    doc = copy.deepcopy(results)
    if case == "dev-hash":  # a board of the real data exists, so its content hash is known
        assert publish(tmp_path, results)[0].rc == 0
    before = tree(tmp_path / "boards") if (tmp_path / "boards").exists() else {}
    mutate(doc)
    text = json.dumps(doc)  # NaN/Infinity are written as JSON allows them by accident
    outcome, boards = publish(tmp_path, text)
    refused(outcome, needle)
    after = tree(boards) if boards.exists() else {}
    assert after == before  # board untouched
    assert sorted(p.name for p in tmp_path.iterdir()) in (["r.json"], ["boards", "r.json"])  # nothing outside
    assert not Path("/tmp/escaped.json").exists()


RAW_FILES = {
    "empty": ("", "not valid JSON"), "truncated": ("{\"schema_version\": 2, \"metr", "not valid JSON"),
    "list": ("[1, 2, 3]", "r.json"), "null": ("null", "r.json"),
    "deep-list": ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    "deep-object": ("{\"a\":" * 50_000 + "1" + "}" * 50_000, "not valid JSON"),
    "binary": ("\x00\x01\x02\xff", "not valid JSON"), "nan-top-level": ("NaN", "r.json"),
}


@pytest.mark.parametrize("case", sorted(RAW_FILES))
def test_unreadable_results_files(case, tmp_path):
    text, needle = RAW_FILES[case]
    refused(publish(tmp_path, text)[0], needle)
    assert not (tmp_path / "boards").exists()


def test_results_path_is_a_folder(tmp_path):
    refused(fsbench("publish", tmp_path, "--boards", tmp_path / "b"), str(tmp_path), "folder")


def test_boards_path_is_a_file(results, tmp_path):
    (tmp_path / "file").write_text("mine")
    refused(fsbench("publish", _write(tmp_path, results), "--boards", tmp_path / "file"), "file")
    assert (tmp_path / "file").read_text() == "mine"


def _write(folder: Path, doc: dict, name: str = "r.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def smaller(tiny_dir) -> dict[str, dict]:
    """Real runs of the same method + config with fewer episodes, and with fewer S values."""
    from fsbench.evaluation.runner import RunRequest, run

    req = dict(method="pixels", dataset=str(tiny_dir), split="leave-signer-out", config={"size": 2})
    return {"episodes": run(RunRequest(shots=[1, 2], episodes=2, **req)),
            "shots": run(RunRequest(shots=[1], episodes=3, **req)),
            "dev": run(RunRequest(shots=[1, 2], episodes=3, dev=True, **req))}


@pytest.mark.parametrize("kind, needle", [("episodes", "2 episodes instead of 3"), ("shots", "no S=2")])
def test_replacement_by_a_smaller_run_needs_replace(kind, needle, results, smaller, tmp_path):
    boards = tmp_path / "boards"
    assert fsbench("publish", _write(tmp_path, results), "--boards", boards).rc == 0
    board = boards / "tiny__leave-signer-out.json"
    before = board.read_bytes()
    small = _write(tmp_path, smaller[kind], "small.json")
    refused(fsbench("publish", small, "--boards", boards), needle, "--replace")
    assert board.read_bytes() == before
    assert fsbench("publish", small, "--boards", boards, "--replace").rc == 0
    (entry,) = lb.read_board(board)["entries"]
    assert entry["manifest"]["episodes"] == smaller[kind]["protocol"]["episodes"]


def test_republishing_the_same_run_replaces_it(results, tmp_path):
    boards = tmp_path / "boards"
    for _ in range(2):
        assert fsbench("publish", _write(tmp_path, results), "--boards", boards).rc == 0
    assert len(lb.read_board(boards / "tiny__leave-signer-out.json")["entries"]) == 1


def test_a_real_dev_run_with_its_flag_and_name_edited(smaller, results, tmp_path):
    """Only the data identity is left to tell it is a development run: the board's hash does."""
    boards = tmp_path / "boards"
    assert fsbench("publish", _write(tmp_path, results), "--boards", boards).rc == 0
    dev = copy.deepcopy(smaller["dev"])
    dev["protocol"]["development"] = False
    dev["dataset"]["name"] = "tiny"
    refused(fsbench("publish", _write(tmp_path, dev, "dev.json"), "--boards", boards), "development set of tiny")


def _publish_many(args: tuple[str, str, int]) -> int:
    path, boards, k = args
    doc = json.loads(Path(path).read_text())
    done = 0
    for i in range(10):  # forty identities: pixels at sizes 2…41, each hashed by the installed method
        doc["method"]["config"]["size"] = 2 + 10 * k + i
        doc["method"]["config_hash"] = make_method("pixels", doc["method"]["config"]).config_hash
        one = Path(path).with_name(f"p{k}-{i}.json")
        one.write_text(json.dumps(doc))
        lb.publish(one, Path(boards))
        done += 1
    return done


def test_concurrent_publishes_lose_no_entry(tiny_results_path, tmp_path):
    """Four processes publishing ten entries each at once: all forty are on the board."""
    src = tmp_path / "src.json"
    src.write_text(tiny_results_path.read_text())
    boards = tmp_path / "boards"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert pool.map(_publish_many, [(str(src), str(boards), k) for k in range(4)]) == [10] * 4
    board = lb.read_board(boards / "tiny__leave-signer-out.json")
    assert len(board["entries"]) == 40
    assert not [p for p in boards.iterdir() if p.name.endswith(".tmp")]


def _paths(doc, prefix=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))
    else:
        yield prefix


json_leaf = st.none() | st.booleans() | st.integers(-10, 10_000) | st.floats(allow_subnormal=False) | st.text(max_size=8)


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_results_never_publish_a_changed_number(data, tiny_results_path):
    """Replace any one value of a real results file by any JSON value: publish either refuses it in
    one line or the board shows exactly the numbers the untouched rows give."""
    fuzzed()
    original = json.loads(tiny_results_path.read_text())
    doc = copy.deepcopy(original)
    paths = sorted(_paths(doc), key=str)
    where = data.draw(st.sampled_from(paths))
    node = doc
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = data.draw(json_leaf)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.json"
        path.write_text(json.dumps(doc))
        try:
            board_path = lb.publish(path, Path(tmp) / "boards")
        except FsbenchError as exc:
            assert "\n" not in str(exc)
            return
        assert Path(board_path).resolve().parent == (Path(tmp) / "boards").resolve()
        (entry,) = lb.read_board(board_path)["entries"]
        for key, m in entry["metrics"].items():
            for stat in ("top1", "top2", "n_queries", "n_episodes"):
                assert m[stat] == original["metrics"][key][stat], (where, stat)


def _foreign_repo(path: Path) -> Path:
    """A git repo on main that tracks a file of the user's (not a board's)."""
    import subprocess

    path.mkdir()
    (path / "notes.txt").write_text("mine")
    for args in (["init", "-q", "-b", "main"], ["add", "notes.txt"],
                 ["-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q", "-m", "mine"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)
    return path


@pytest.mark.parametrize("case", ["folder-of-files", "foreign-repo", "a-file", "bad-hub-spec"])
def test_a_refused_export_target_leaves_the_boards_unwritten(case, tiny_results_path, tmp_path):
    """Third audit: `publish --to DIR` refused DIR only after every board was written, so the
    user saw an error while the board had changed. The target is now checked first."""
    to = tmp_path / "to"
    if case == "folder-of-files":
        to.mkdir()
        (to / "thesis.tex").write_text("mine")
    elif case == "foreign-repo":
        _foreign_repo(to)
    elif case == "a-file":
        to.write_text("mine")
    target = "hub:" if case == "bad-hub-spec" else to
    before = tree(tmp_path)
    refused(fsbench("publish", tiny_results_path, "--boards", tmp_path / "boards", "--to", target))
    assert not (tmp_path / "boards").exists()
    assert tree(tmp_path) == before
