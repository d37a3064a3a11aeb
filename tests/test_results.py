"""Results files: schema validation on write and read, atomic writes, provenance."""

from __future__ import annotations

import json

import pytest

from fsbench.record import document as results_mod
from fsbench.errors import ResultsError
from fsbench.evaluation.runner import RunRequest, run
from fsbench.runtime import decide_threads


@pytest.fixture(scope="module")
def tiny_results(tiny, tiny_dir):
    return run(RunRequest("pixels", str(tiny_dir), "leave-signer-out", [0, 1], 2, 0), tiny)


def test_run_output_validates_and_records_provenance(tiny_results):
    results_mod.validate(tiny_results)
    r = tiny_results
    assert r["dataset"]["content_hash"] and r["split"]["manifest_sha256"]
    assert set(r["protocol"]["episodes_sha256"]) == {"S=0", "S=1"}
    assert r["fsbench"]["git_commit"] and r["hardware"]["threads"] == decide_threads() >= 1
    assert r["hardware"]["usable_cores"] >= 1 and r["hardware"]["wait_policy"] and r["hardware"]["thread_policy"]
    assert r["method"]["distribution"] == "fsbench"
    assert set(r["metrics"]["S=1"]["per_signer"]) == {"s1", "s2", "s3"}


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda r: r.pop("dataset"), "<top level>"),
        (lambda r: r["metrics"]["S=1"]["top1"].update(mean=1.5), "metrics/S=1/top1/mean"),
        (lambda r: r["split"].update(manifest_sha256="abc"), "split/manifest_sha256"),
        (lambda r: r["metrics"].update({"five": r["metrics"]["S=1"]}), "metrics"),
    ],
)
def test_schema_rejects_invalid_results_with_one_line(tiny_results, mutate, where):
    bad = json.loads(json.dumps(tiny_results))
    mutate(bad)
    with pytest.raises(ResultsError) as info:
        results_mod.validate(bad, "bad.json")
    assert f"at {where}" in str(info.value) and "\n" not in str(info.value)


def test_write_is_atomic_when_interrupted(tmp_path, tiny_results, monkeypatch):
    path = tmp_path / "r.json"
    results_mod.write_results(path, tiny_results)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(results_mod.json, "dumps", explode)  # mid-write: the temp file is open
    with pytest.raises(KeyboardInterrupt):
        results_mod.write_results(path, tiny_results)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind


def test_read_refuses_corrupt_and_truncated_files(tmp_path, tiny_results):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(tiny_results)[:500])
    with pytest.raises(ResultsError, match="not valid JSON"):
        results_mod.read_results(path)
    with pytest.raises(ResultsError, match="does not exist"):
        results_mod.read_results(tmp_path / "missing.json")
