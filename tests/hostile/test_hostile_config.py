"""Method configs, `--set` values and run numbers: every bad one is one line before any work."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsbench.configs import ConfigError, check_config
from harness import fsbench, fuzzed, refused


SET_CASES = [
    ("size=abc", "expects an integer, not 'abc'"), ("size=-3", "must lie in 2…256, not -3"),
    ("size=32.5", "expects an integer, not 32.5"), ("size=100000", "not 100000"), ("size=0", "not 0"),
    ("size=1", "not 1"), ("size=true", "not True"), ("size=null", "not None"), ("size=[16]", "not [16]"),
    ("size={}", "not {}"), ("size=NaN", "not nan"), ("size=Infinity", "not inf"), ("size=1e3", "not 1000.0"),
    ("size=", "not ''"), ("size=\"16\"", "not '16'"), ("size=" + "9" * 5000, "expects an integer"),
    ("mode=XYZ", "must be one of ['RGB', 'L'], not 'XYZ'"), ("mode=rgb", "not 'rgb'"), ("mode=1", "not 1"),
    ("mode=null", "not None"), ("mode=[\"RGB\"]", "not ['RGB']"),
    ("classifier=3", "expects a string (its name) or an object of its keys, not 3"), ("classifier=nosuchrule", "no classifier named 'nosuchrule'"),
    ("sizee=3", "no config key 'sizee'; nearest: 'size' (int, 2…256)"), ("=3", "must look like KEY=VALUE"), ("size", "must look like KEY=VALUE"),
    ("  =x", "must look like KEY=VALUE"),
]


@pytest.mark.parametrize("item, needle", SET_CASES, ids=[c[0][:40] for c in SET_CASES])
def test_bad_set_value(item, needle, tiny_dir, tmp_path):
    out = tmp_path / "r.json"
    refused(fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                    "--episodes", "1", "--set", item, "--out", out), needle,
            *(["method 'pixels'"] if "expects" in needle or "must be" in needle or "lie in" in needle else []))
    assert not out.exists()


CONFIG_FILES = [
    ("c.json", "[1, 2]", "holds a JSON list, not an object"), ("c.json", "null", "holds a JSON NoneType"),
    ("c.json", "42", "holds a JSON int"), ("c.json", "\"size\"", "holds a JSON str"),
    ("c.json", "{\"size\": ", "cannot be read"), ("c.json", "", "cannot be read"),
    ("c.json", "[" * 100_000, "cannot be read"), ("c.toml", "size = ", "cannot be read"),
    ("c.json", "{\"size\": \"big\"}", "expects an integer, not 'big'"),
    ("c.toml", "size = 16.5", "expects an integer, not 16.5"),
    ("c.json", "\udcff", "cannot be read"),
]


@pytest.mark.parametrize("name, text, needle", CONFIG_FILES, ids=[f"{n}:{t[:12]}" for n, t, _ in CONFIG_FILES])
def test_bad_config_file(name, text, needle, tiny_dir, tmp_path):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    refused(fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--config", path,
                    "--set", "mode=\"L\"", "--out", tmp_path / "r.json"), needle)


def test_config_file_that_is_a_folder_or_missing(tiny_dir, tmp_path):
    for path in (tmp_path, tmp_path / "missing.json"):
        refused(fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--config", path), "cannot be read")


RUN_NUMBERS = [
    (["--seed", "-1"], "'--seed': -1 is not in the range 0<=x<=4294967295"), (["--seed", "x"], "'x' is not a valid integer"),
    (["--ways", "1"], "--ways 1: an episode needs at least 2 classes"), (["--ways", "0"], "--ways 0"),
    (["--ways", "-4"], "--ways -4"), (["--ways", "99"], "--ways 99 exceeds the 4 test classes"),
    (["--episodes", "0"], "--episodes must be ≥ 1, not 0"), (["--episodes", "-5"], "not -5"),
    (["--episodes", str(10**23)], "is more than any dataset can draw"),
    (["--shots", "1000"], "--shots 1000: no test class of tiny holds more than 4 images"),
    (["--shots", "1,1000"], "--shots 1000"), (["--shots", "-1"], "shots must be integers ≥ 0"),
    (["--shots", ""], "shots must be integers ≥ 0"), (["--shots", "1.5"], "comma-separated list of integers"),
    (["--shots", ",,,"], "shots must be integers ≥ 0"),
    (["-s", "unseen-class", "--shots", "0"], "S=0 has no meaning for unseen classes"),
    (["--cross-condition", "-d", "NOCOND"], "records no recording condition"),
]


@pytest.mark.parametrize("extra, needle", RUN_NUMBERS, ids=[" ".join(e) for e, _ in RUN_NUMBERS])
def test_bad_run_numbers_fail_before_training(extra, needle, tiny_dir, tmp_path, nocond_dir):
    args = ["run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--episodes", "1", "--set", "size=8"]
    for flag, value in zip(extra[::2], extra[1::2] + [None]):
        if flag == "--cross-condition":
            args += [flag]
            break
        i = args.index(flag) if flag in args else None
        if i is not None:
            args[i + 1] = str(nocond_dir) if value == "NOCOND" else value
        else:
            args += [flag, value]
    if "--cross-condition" in extra:
        args[args.index("-d") + 1] = str(nocond_dir)
    refused(fsbench(*args, "--out", tmp_path / "r.json"), needle)
    assert not (tmp_path / "r.json").exists()


@pytest.fixture(scope="module")
def nocond_dir(tmp_path_factory):
    """A tiny dataset without a condition column."""
    from fsbench.data.cards import DatasetCard
    from fsbench.data.records import PrepareReport
    from fsbench.data.store import write_prepared
    from fsbench.testing import TINY_CLASSES, TINY_SIGNERS, tiny_rows

    rows = [{k: v for k, v in r.items() if k != "condition"} for r in tiny_rows()]
    card = DatasetCard(name="nocond", title="t", description="t", license="CC0", citation="none",
                       classes=TINY_CLASSES, signers=TINY_SIGNERS, raw_layout="synthetic", image_size=24)
    out = tmp_path_factory.mktemp("nocond") / "nocond"
    write_prepared(rows, out, card, {}, PrepareReport(dataset="nocond", raw="synthetic"))
    return out


DEFAULTS = {"size": 32, "lr": 0.1, "augment": True, "name": "x", "widths": None, "epochs": "auto", "layers": [1, 2]}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_subnormal=False) | st.text(string.printable, max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(DEFAULTS) + ["unknown", ""]), value=json_values)
def test_fuzzed_config_values_are_accepted_by_type_or_refused_in_one_line(key, value):
    """Any JSON value for any key: accepted only when it has the default's kind, else one line."""
    fuzzed()
    try:
        config = check_config("m", DEFAULTS, {key: value}, ranges={"size": (1, 512)})
    except ConfigError as exc:
        assert "\n" not in str(exc) and "'m'" in str(exc)
        return
    default = DEFAULTS[key]
    got = config[key]
    if isinstance(default, bool):
        assert isinstance(got, bool)
    elif isinstance(default, int):
        assert type(got) is int and 1 <= got <= 512
    elif isinstance(default, float):
        assert type(got) in (int, float) and got == got and abs(got) != float("inf")
    elif default == "auto":
        assert got == "auto" or type(got) in (int, float)
    elif isinstance(default, str):
        assert isinstance(got, str)
    elif isinstance(default, list):
        assert isinstance(got, list)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw=st.text(max_size=30))
def test_fuzzed_set_strings_through_the_cli(raw, tiny_dir, tmp_path):
    """Arbitrary `--set size=<text>`: a run or one error line, never a traceback."""
    fuzzed()
    o = fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1",
                "--set", f"size={raw}", "--out", tmp_path / "f.json")
    if o.rc == 0:
        assert 2 <= json.loads((tmp_path / "f.json").read_text())["method"]["config"]["size"] <= 256
    else:
        refused(o, "size")


# ---------------------------------------------------------------- third audit: the Python API's arguments

API_ARGS = {
    "cross-condition-as-text": ({"cross_condition": "no"}, "cross_condition must be True or False"),
    "dev-as-text": ({"dev": "no"}, "dev must be True or False"),
    "episodes-as-bool": ({"episodes": True}, "--episodes must be an integer ≥ 1, not True"),
    "episodes-as-text": ({"episodes": "2"}, "not '2'"),
    "ways-as-float": ({"ways": 2.0}, "--ways must be an integer ≥ 2 or None"),
    "seed-as-bool": ({"seed": False}, "--seed must be an integer"),
    "split-none": ({"split": None}, "split must be a name"),
    "method-int": ({"method": 5}, "method must be a name"),
    "dataset-int": ({"dataset": 5}, "dataset must be a name, a folder"),
    "config-list": ({"config": [1, 2]}, "config must be a dict"),
}


@pytest.mark.parametrize("case", sorted(API_ARGS))
def test_python_api_run_types_every_argument(case, tiny_dir):
    """Third audit: `fsbench.run(cross_condition="no")` ran cross-condition and `dev="no"` a
    development run (any non-empty text is true), `episodes=True` one episode, `episodes="2"` was
    blamed as "not ≥ 1", and a None split or an int dataset was a TypeError from deep inside."""
    import fsbench
    from fsbench.errors import FsbenchError

    over, needle = API_ARGS[case]
    kwargs = {"method": "pixels", "dataset": str(tiny_dir), "split": "leave-signer-out", "shots": 1, "episodes": 1,
              "config": {"size": 4}, **over}
    with pytest.raises(FsbenchError, match=None) as caught:
        fsbench.run(**kwargs)
    assert needle in str(caught.value), str(caught.value)


@pytest.mark.parametrize("case", ["trailing-slash", "folder"])
def test_python_api_results_write_keeps_the_output_rule(case, tiny_results_path, tmp_path):
    """Third audit: `Results.write("runs/")` wrote a file named `runs`; `fsbench run --out runs/` is refused."""
    from fsbench.errors import FsbenchError
    from fsbench.record.results import Results

    target = f"{tmp_path / 'runs'}/" if case == "trailing-slash" else tmp_path
    with pytest.raises(FsbenchError, match="is a folder"):
        Results(json.loads(tiny_results_path.read_text())).write(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["name", "unknown-option"])
def test_python_api_prepare_options(case, tmp_path):
    """Third audit: `fsbench.prepare("folder", name=…)` (the documented option) was a TypeError
    'got multiple values for argument name'; an unknown option a TypeError from the builder."""
    import fsbench
    from fsbench.errors import FsbenchError
    from fsbench.testing import tiny_image

    raw = tmp_path / "raw"
    for c in ("a", "b"):
        for s in ("s1", "s2"):
            (raw / c).mkdir(parents=True, exist_ok=True)
            (raw / c / f"{s}_0.png").write_bytes(tiny_image(ord(c) - 97, int(s[1]), 0))
    if case == "name":
        report = fsbench.prepare("folder", raw=raw, out=tmp_path / "out", name="mine", pattern="{label}/{signer}_{*}",
                                 image_size=16)
        assert report.dataset == "mine" and (tmp_path / "out" / "fsbench.json").is_file()
    else:
        with pytest.raises(FsbenchError, match="does not take these options"):
            fsbench.prepare("folder", raw=raw, out=tmp_path / "out", name="mine", bogus=1)
        assert not (tmp_path / "out").exists()


API_CALLS = {
    "publish-int": (lambda f: f.publish(3), "results must be a results file"),
    "publish-list-of-int": (lambda f: f.publish([3]), "each of results must be"),
    "publish-boards-int": (lambda f: f.publish("x.json", boards=3), "boards must be the leaderboards folder"),
    "publish-replace-text": (lambda f: f.publish("x.json", replace="no"), "replace must be True or False"),
    "publish-to-int": (lambda f: f.publish("x.json", to=3), "to must be hub:OWNER/NAME"),
    "leaderboard-int": (lambda f: f.leaderboard(3), "board must be a board name"),
    "leaderboard-boards-int": (lambda f: f.leaderboard(None, boards=3), "boards must be the leaderboards folder"),
    "push-dataset-int": (lambda f: f.push(3, "x"), "dataset must be a prepared dataset's name"),
    "push-to-int": (lambda f: f.push("x", 3), "to must be hub:OWNER/NAME"),
    "load-dataset-none": (lambda f: f.load_dataset(None), "dataset must be a dataset name"),
    "prepare-int": (lambda f: f.prepare(3), "dataset must be a registered dataset name"),
    "prepare-strict-text": (lambda f: f.prepare("folder", strict="no"), "strict must be True or False"),
    "get-name-int": (lambda f: f.get("methods", 3), "name must be a registered name"),
    "list-none": (lambda f: f.list(None), "kind must be a plugin kind"),
}


@pytest.mark.parametrize("case", sorted(API_CALLS))
def test_python_api_types_every_argument_of_every_function(case, tmp_path, monkeypatch):
    """Third audit's leftover: wrong-typed arguments to publish, leaderboard and push were TypeErrors
    from `os.fspath` (`expected str, bytes or os.PathLike object, not int`); now every function of
    the public API names the argument and what it takes, before anything is read or written."""
    import fsbench
    from fsbench.errors import FsbenchError

    monkeypatch.chdir(tmp_path)
    call, needle = API_CALLS[case]
    with pytest.raises(FsbenchError) as caught:
        call(fsbench)
    assert needle in str(caught.value), str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["flag", "file"])
def test_a_sweep_with_more_episodes_than_any_dataset_is_refused_before_the_dry_run_lists_it(where, tiny_dir, tmp_path):
    """Third audit's leftover: `sweep --episodes 10**23 --dry-run` listed the cell as todo, and only
    the run refused it; the bound needs no dataset (every episode holds at least two rows)."""
    if where == "flag":
        args = ("sweep", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--episodes", str(10**23))
    else:
        (tmp_path / "s.toml").write_text(f'[[run]]\nmethod = "pixels"\ndataset = "{tiny_dir}"\n'
                                         f'split = "leave-signer-out"\nepisodes = {10**15}\n')
        args = ("sweep", tmp_path / "s.toml")
    outcome = fsbench(*args, "--out", tmp_path / "out", "--dry-run")
    refused(outcome, "episodes")
    assert "todo" not in outcome.out and not (tmp_path / "out").exists()
