"""What every reader checks before it trusts a results file's numbers.

A results file is JSON anyone can edit, so a board must not take its summary numbers on trust:

- every summary a board shows (top-1/top-2 mean and 95 % CI, query and episode counts, per-signer
  and per-fold accuracy) is recomputed from the file's per-episode rows with the very functions
  that produced it (`fsbench.record.stats`), so the comparison is exact;
- the rows must be the protocol's: one per (fold, signer group, episode) at every S, and no
  count can exceed its queries;
- no number may be NaN or infinite;
- the split manifest hash is the hash of the file's own folds, and every row names one of them.

`read_checked` applies all of it to a file: every reader of results files (publish, verify --runs,
sweep resume, report, compact) goes through it, so an edited file is refused the same way everywhere.

Per-class accuracies and confusions are per-query data that the rows do not determine; they
feed only `fsbench report`, and `fsbench verify` re-runs an entry to check everything.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fsbench.errors import ResultsError
from fsbench.record.document import read_results, write_results
from fsbench.record.shots import shot_key, shots_in
from fsbench.record.stats import bootstrap_ci, seeded_bootstrap_ci

#: two numbers this close are the same number (the recomputation is exact; JSON round-trips)
TOLERANCE = 1e-9
#: the most queries a file's rows may hold (the largest real run has about 20 000 per S)
MAX_QUERIES = 20_000_000


def finite_numbers(doc: Any, source: str, fix: str = "re-create it with `fsbench run`") -> None:
    """Refuse NaN and ±Infinity anywhere in a document (JSON allows them only by accident)."""
    for where, value in _numbers(doc, ""):
        if not math.isfinite(value):
            raise ResultsError(f"{source} holds {value} at {where or '<top level>'}; {fix}")


def _numbers(doc: Any, where: str) -> Iterator[tuple[str, float]]:
    if isinstance(doc, float):
        yield where, doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield from _numbers(v, f"{where}/{k}" if where else str(k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _numbers(v, f"{where}/{i}")


def _hits(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-query 0/1 hits, episode number, signer and fold, rebuilt from per-episode counts.

    The bootstrap only ever sums hits per (signer, episode) cell, so counts rebuild it exactly.
    """
    n = np.array([r["n_query"] for r in rows], np.int64)
    correct = np.array([r[key] for r in rows], np.int64)
    episode = np.repeat(np.arange(len(rows)), n)
    starts = np.repeat(np.cumsum(n) - n, n)
    hits = (np.arange(int(n.sum())) - starts < np.repeat(correct, n)).astype(float)
    signer = np.repeat(np.array([str(r["signer"]) for r in rows], dtype=object), n).astype(str)
    fold = np.repeat(np.array([str(r["fold"]) for r in rows], dtype=object), n).astype(str)
    return hits, episode, signer, fold


def _acc(hits: np.ndarray) -> float:
    return float(hits.mean()) if len(hits) else float("nan")


def summaries_from_rows(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per S: the board-facing summary numbers, recomputed from `results["episodes"]`."""
    seed = results["protocol"]["seed"]
    by_shots: dict[int, list[dict[str, Any]]] = {}
    for row in results["episodes"]:
        by_shots.setdefault(int(row["shots"]), []).append(row)
    out = {}
    for shots, rows in sorted(by_shots.items()):
        t1, episode, signer, fold = _hits(rows, "top1_correct")
        t2 = _hits(rows, "top2_correct")[0]
        out[shot_key(shots)] = {
            "n_queries": int(len(t1)),
            "n_episodes": int(len(np.unique(episode))),
            "top1": {"mean": _acc(t1), "ci95": list(bootstrap_ci(t1, episode, signer, seed))},
            "top2": {"mean": _acc(t2), "ci95": list(bootstrap_ci(t2, episode, signer, seed))},
            "per_signer": {
                str(s): {
                    "top1": _acc(t1[m]), "top2": _acc(t2[m]), "n_queries": int(m.sum()),
                    "top1_ci95": list(bootstrap_ci(t1[m], episode[m], signer[m], seed)),
                }
                for s in np.unique(signer) if (m := signer == s).any()
            },
            "per_fold": {
                str(f): {"top1": _acc(t1[m]), "top2": _acc(t2[m]), "n_queries": int(m.sum())}
                for f in np.unique(fold) if (m := fold == f).any()
            },
        }
    return out


def seeds_ci(rows_per_seed: list[list[dict[str, Any]]], key: str, seed: int) -> list[float]:
    """95 % CI of `key` ("top1_correct", "top2_correct") pooled over seeds, from each seed's rows at
    one S: seeds, then signers, then episodes resampled (`stats.seeded_bootstrap_ci`)."""
    parts = []
    for rows in rows_per_seed:
        hits, episode, signer, _ = _hits(rows, key)
        parts.append((hits, episode, signer))
    return list(seeded_bootstrap_ci(parts, seed))


def _differences(given: Any, want: Any, where: str) -> Iterator[str]:
    """Paths where `given` (from the file) disagrees with `want` (recomputed)."""
    if isinstance(want, dict):
        if not isinstance(given, dict):
            yield where
            return
        for k, v in want.items():
            # keys are the file's own signer / fold names: escaped, so the error stays one line
            yield from _differences(given.get(k), v, f"{where}/{str(k).encode('unicode_escape').decode()}")
    elif isinstance(want, list):
        if not isinstance(given, list) or len(given) != len(want):
            yield where
            return
        for i, (g, w) in enumerate(zip(given, want)):
            yield from _differences(g, w, f"{where}/{i}")
    elif isinstance(want, float):
        if not isinstance(given, (int, float)) or isinstance(given, bool) or abs(given - want) > TOLERANCE:
            yield where
    elif given != want or isinstance(given, bool):
        yield where


def check_rows(results: dict[str, Any], source: str) -> None:
    """The per-episode rows are the protocol's, and the summaries are what they add up to."""
    proto = results["protocol"]
    rows = results["episodes"]
    n_classes = len(results["dataset"]["class_names"])
    for key, value, lo, hi in (("episodes", proto["episodes"], 1, None), ("seed", proto["seed"], 0, None),
                               ("ways", proto["ways"], 2, n_classes), *(("shots", s, 0, None) for s in proto["shots"])):
        if key == "ways" and value is None:
            continue
        if type(value) is not int or value < lo or (hi is not None and value > hi):
            raise ResultsError(f"{source}: protocol.{key} {value!r} is not an integer in {lo}…{hi or '∞'}; "
                               "re-create it with `fsbench run`")
    for i, r in enumerate(rows):
        nums = [r.get(k) for k in ("n_query", "top1_correct", "top2_correct", "shots")]
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in nums):
            raise ResultsError(f"{source}: episodes/{i} has a count that is not an integer ≥ 0; re-create it with `fsbench run`")
        if r["n_query"] > results["dataset"]["num_images"]:
            raise ResultsError(f"{source}: episodes/{i} claims {r['n_query']} queries of a dataset of "
                               f"{results['dataset']['num_images']} images; re-create it with `fsbench run`")
        if not r["top1_correct"] <= r["top2_correct"] <= r["n_query"]:
            raise ResultsError(
                f"{source}: episodes/{i} claims {r['top1_correct']} top-1 and {r['top2_correct']} top-2 hits "
                f"of {r['n_query']} queries; re-create it with `fsbench run`"
            )
    if sum(r["n_query"] for r in rows) > MAX_QUERIES:  # the recomputation holds every query in memory
        raise ResultsError(f"{source}: its rows hold more than {MAX_QUERIES:,} queries, more than any run makes; "
                           "re-create it with `fsbench run`")
    shots = {shot_key(s) for s in proto["shots"]}
    have = {shot_key(r["shots"]) for r in rows}
    if set(results["metrics"]) != shots or have != shots:
        raise ResultsError(
            f"{source}: protocol.shots {sorted(shots)}, metrics {sorted(results['metrics'])} and episode rows "
            f"{sorted(have)} disagree; re-create it with `fsbench run`"
        )
    groups = sum(1 if f["kind"] == "unseen-class" else len(f["test_signers"]) for f in results["split"]["folds"])
    for key in sorted(shots):
        s = shots_in(key)
        per_group = 1 if s == 0 and proto["ways"] is None else proto["episodes"]
        n_rows = sum(1 for r in rows if r["shots"] == s)
        if n_rows != groups * per_group:
            raise ResultsError(
                f"{source}: {n_rows} episode rows at {key}, but {proto['episodes']} episodes over "
                f"{groups} signer groups make {groups * per_group}; re-create it with `fsbench run`"
            )
    wrong = []
    for key, want in summaries_from_rows(results).items():
        wrong += list(_differences(results["metrics"][key], want, f"metrics/{key}"))
    if wrong:
        raise ResultsError(
            f"{source}: {', '.join(wrong[:3])}{' …' if len(wrong) > 3 else ''} disagree with the per-episode "
            f"rows ({len(wrong)} numbers); the file was edited or is damaged: re-create it with `fsbench run`"
        )


def check_split(results: dict[str, Any], source: str) -> None:
    """The split manifest hash is the hash of the file's folds (as `split_manifest` makes it), its
    seed is the run's, and every episode row names one of its folds and a test signer of it."""
    from fsbench.api import canonical_hash  # here: fsbench.api imports torch, and `fsbench leaderboard` must not

    split = results["split"]
    body = {"split": split["name"], "seed": split["seed"], "folds": split["folds"]}
    if canonical_hash(body) != split["manifest_sha256"]:
        raise ResultsError(f"{source}: split.manifest_sha256 is not the hash of its split name, seed and folds; "
                           "the file was edited: re-create it with `fsbench run`")
    if split["seed"] != results["protocol"]["seed"]:
        raise ResultsError(f"{source}: split.seed {split['seed']} is not protocol.seed {results['protocol']['seed']}; "
                           "re-create it with `fsbench run`")
    folds = {f["name"]: f for f in split["folds"]}
    for i, row in enumerate(results["episodes"]):
        fold = folds.get(row["fold"])
        signers = ["all"] if fold is not None and fold["kind"] == "unseen-class" else (fold or {}).get("test_signers", [])
        if row["signer"] not in signers:
            raise ResultsError(f"{source}: episodes/{i} names fold {str(row['fold'])[:40]!r} and signer "
                               f"{str(row['signer'])[:40]!r}, which its split does not test; re-create it with `fsbench run`")


def check_confusions(results: dict[str, Any], source: str) -> None:
    """Each confusion is over the file's classes, its cells inside the matrix and unique (a figure
    indexes class names by them)."""
    n = len(results["dataset"]["class_names"])
    for key, shot in results["metrics"].items():
        conf = shot["confusion"]
        cells = [(t, p) for t, p, _ in conf["cells"]]
        if conf["classes"] != n or any(t >= n or p >= n for t, p in cells) or len(set(cells)) != len(cells):
            raise ResultsError(f"{source}: the confusion at metrics/{key} is not a matrix over its {n} classes; "
                               "re-create it with `fsbench run`")


def check_created(results: dict[str, Any], source: str) -> None:
    """`created` is an ISO 8601 date-time: it becomes a board entry's date, and the schema's
    `format` is not enforced by jsonschema without extra packages."""
    try:
        dt.datetime.fromisoformat(results["created"])
    except (TypeError, ValueError):
        raise ResultsError(f"{source}: created {str(results['created'])[:40]!r} is not an ISO 8601 date-time; "
                           "re-create it with `fsbench run`") from None


def check(results: dict[str, Any], source: str) -> None:
    """Everything a results document must show about itself: finite, its summaries what its rows
    add up to, its split its own, its confusions over its classes, its date a date."""
    finite_numbers(results, source)
    check_created(results, source)
    check_rows(results, source)
    check_split(results, source)
    check_confusions(results, source)


def read_checked(path: Path | str) -> dict[str, Any]:
    """A results file as every reader must take it: schema-valid (schema 1 upgraded) and `check`ed.
    Anything else is one line."""
    results = read_results(Path(path))
    check(results, str(path))
    return results


def compact_file(path: Path) -> tuple[int, int]:
    """Rewrite one results file (checked as every reader checks it) in the current schema and
    compact form; (bytes before, after)."""
    results = read_checked(path)
    before = Path(path).stat().st_size
    write_results(Path(path), results)
    return before, Path(path).stat().st_size
