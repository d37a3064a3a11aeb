"""The public Python API: every example of docs/python-api.md and README.md runs; the CLI calls the
API; the Results record; `import fsbench` stays light; moved names warn and still work."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import fsbench
from fsbench.errors import FsbenchError, ResultsError

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(doc: Path) -> list[str]:
    return BLOCK.findall(doc.read_text())


@pytest.mark.parametrize("doc", ["docs/python-api.md", "README.md"])
def test_every_example_runs(doc, tmp_path, monkeypatch, capsys):
    """The blocks run in order in one namespace, as notebook cells would."""
    blocks = python_blocks(ROOT / doc)
    assert blocks, f"{doc} has no python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{doc} (python block {i + 1})", "exec"), namespace)
        except Exception as exc:  # name the block that broke
            pytest.fail(f"{doc}, python block {i + 1} failed: {type(exc).__name__}: {exc}")
    assert capsys.readouterr().out.strip()  # the examples print what they show


def test_import_fsbench_is_light():
    code = ("import sys, fsbench; fsbench.run, fsbench.Results, fsbench.list; "
            "print(sorted(m for m in ('torch', 'datasets', 'numpy', 'huggingface_hub', 'matplotlib') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_cli_calls_the_api(monkeypatch, tmp_path):
    """`fsbench run` and `fsbench publish` are the API's functions with flags: they cannot drift."""
    from fsbench import python_api
    from fsbench.cli import cli

    seen = {}

    def fake_run(**kwargs):
        seen.update(kwargs)
        raise FsbenchError("stop here")

    monkeypatch.setattr(python_api, "run", fake_run)
    result = CliRunner().invoke(cli, ["run", "-m", "pixels", "-d", "omniglot", "-s", "unseen-class", "--shots", "5,1",
                                      "--ways", "5", "--set", "size=16", "--out", str(tmp_path / "r.json")])
    assert isinstance(result.exception, FsbenchError)
    assert seen == dict(method="pixels", dataset="omniglot", split="unseen-class", shots=[1, 5], episodes=10, seed=0,
                        ways=5, cross_condition=False, config={"size": 16}, dev=False, device=None, precision="fp32",
                        deterministic=False)


def test_results_record(tiny_dir):
    r = fsbench.run(method="pixels", dataset=str(tiny_dir), split="leave-signer-out", shots=[0, 2], episodes=2)
    assert r.shots == [0, 2] and r.method == "pixels" and r.dataset == "tiny" and r.split == "leave-signer-out"
    doc = r.to_dict()
    assert r.top1(2) == doc["metrics"]["S=2"]["top1"]["mean"] and r.top2(0) == doc["metrics"]["S=0"]["top2"]["mean"]
    low, high = r.ci(2)
    assert low <= r.top1(2) <= high and r.ci(2, "top2")[0] <= r.top2(2)
    doc["metrics"].clear()  # a copy: the record is untouched
    assert r.top1(2) == r.document["metrics"]["S=2"]["top1"]["mean"]
    with pytest.raises(ResultsError, match=r"no S=1; they measured S=0, 2"):
        r.top1(1)
    assert "S=2" in repr(r)


@pytest.mark.parametrize("kwargs, message", [
    (dict(device="cuda"), r"no CUDA GPU"),  # CI has none (tests/test_device.py mocks one)
    (dict(device="tpu"), "unknown device 'tpu'"),
    (dict(shots=[]), "shots must be integers"),
    (dict(shots=[1, -1]), "shots must be integers"),
])
def test_bad_arguments_are_one_line(tiny_dir, kwargs, message):
    args = dict(method="pixels", dataset=str(tiny_dir), split="leave-signer-out", **kwargs)
    with pytest.raises(FsbenchError, match=message):
        fsbench.run(**args)


def test_device_cpu_is_the_default_run(tiny_dir):
    args = dict(method="pixels", dataset=str(tiny_dir), split="leave-signer-out", shots=[1], episodes=2)
    assert fsbench.run(device="cpu", **args).document["metrics"] == fsbench.run(**args).document["metrics"]


def test_list_get_and_leaderboard_formats(tmp_path):
    assert "pixels" in fsbench.list("methods") and "omniglot" in fsbench.list("datasets")
    assert fsbench.get("methods", "pixels").name == "pixels"
    with pytest.raises(FsbenchError, match="format='pdf' is not one of"):
        fsbench.leaderboard("x", boards=tmp_path, format="pdf")
    with pytest.raises(ResultsError, match="no leaderboards folder"):
        fsbench.leaderboard(boards=tmp_path / "none")


@pytest.mark.parametrize("old, name, new", [
    ("fsbench.data.store", "load_prepared", "fsbench.data.loader"),
    ("fsbench.evaluate", "make_method", "fsbench.evaluation.runner"),
    ("fsbench.evaluate", "RunRequest", "fsbench.evaluation.runner"),
    ("fsbench.evaluation.metrics", "shot_key", "fsbench.record.shots"),
])
def test_moved_names_warn_and_work(old, name, new):
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {new}\.{name}") as caught:
        found = getattr(module, name)
    assert found is getattr(importlib.import_module(new), name)
    assert caught[0].filename == __file__  # the warning points at the user's line
    with pytest.raises(AttributeError):
        getattr(module, "no_such_name")


@pytest.mark.parametrize("old, name, new", [
    ("fsbench.results.document", "read_results", "fsbench.record.document"),
    ("fsbench.results.leaderboard", "publish", "fsbench.boards.leaderboard"),
    ("fsbench.results.render", "show", "fsbench.boards.render"),
    ("fsbench.results.integrity", "check_rows", "fsbench.record.integrity"),
    ("fsbench.results.integrity", "check_not_development", "fsbench.boards.admission"),
    ("fsbench.results.aggregate", "over_seeds", "fsbench.boards.aggregate"),
    ("fsbench.results.tables", "results_table", "fsbench.boards.tables"),
    ("fsbench.results.verify", "verify_entry", "fsbench.boards.verify"),
])
def test_moved_modules_warn_on_import_and_serve_their_names(old, name, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=rf"{old} moved to") as caught:
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(module, name)  # attribute access after the import warns no more
