"""One board entry from several seeds of the same run (a sweep's cells), and how boards show it.

Each cell is verified on its own by `fsbench publish` first; this module only combines. Per S the
entry's `top1`/`top2` mean is pooled over every query of every seed, and its 95 % CI resamples
seeds, then signers, then episodes (`integrity.seeds_ci`): a seed's training luck moves all its
episodes together, so the CI must count seeds, not just episodes. `top1.seeds` holds the spread
over seeds: each seed's top-1, their mean, sample standard deviation, min and max. Boards print it
as `mean ±sd [CI]`, and say how many seeds each entry pools and, for one seed, why (`seeds_note`):
a method that trains nothing keeps one seed (the seed only redraws episodes, which the CI already
resamples); a trained method on one seed is an entry made before boards pooled seeds.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from fsbench.errors import ResultsError
from fsbench.record.shots import shot_key, shots_in
from fsbench.record.document import is_results_file, read_results
from fsbench.record.integrity import seeds_ci, summaries_from_rows

#: what every seed of one entry must share (everything but the seed)
SAME = (("method", "name"), ("method", "config_hash"), ("dataset", "name"), ("dataset", "content_hash"),
        ("split", "name"), ("protocol", "shots"), ("protocol", "episodes"), ("protocol", "ways"),
        ("protocol", "cross_condition"), ("protocol", "development"))


def entry_key(results: dict[str, Any]) -> tuple:
    return tuple(repr(results[a].get(b)) for a, b in SAME)


def entries_of(paths: Iterable[Path]) -> list[list[Path]]:
    """Results files grouped into entries: a folder (a sweep's --out) contributes its results files,
    grouped by method + config + protocol; files named one by one must be one entry.

    A sweep's folder holds `sweep.json`, the cells of its last sweep: only their files are taken
    (`sweep_cells`), so cells left from an earlier config of the sweep never reach a board. Files
    are only grouped here (schema-valid); publish verifies each one before it uses any.
    """
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and not paths[0].is_dir():
        return [paths]
    files = [f for p in paths for f in (_folder_files(p) if p.is_dir() else [p])]
    if not files:
        raise ResultsError(f"no results files in {', '.join(map(str, paths))}; run `fsbench sweep ... --out DIR` first")
    groups: dict[tuple, list[tuple[int, Path]]] = {}
    for f in files:
        doc = read_results(f)
        groups.setdefault(entry_key(doc), []).append((doc["protocol"]["seed"], f))
    if not any(p.is_dir() for p in paths) and len(groups) > 1:
        raise ResultsError("the results files given are not one entry (method, config or protocol differ); "
                           "publish them one by one, or give their sweep folder")
    return [[f for _, f in sorted(group)] for group in groups.values()]


def _folder_files(folder: Path) -> list[Path]:
    """The results files of a folder: its sweep's cells when it holds a sweep.json, else every one."""
    listed = sweep_cells(folder)
    files = sorted(f for f in folder.glob("*.json") if f.name != "sweep.json" and is_results_file(f))
    if listed is None:
        return files
    stale = [f for f in files if f not in listed]
    if stale:
        warnings.warn(f"{folder}: {len(stale)} results file(s) not among the cells of its sweep.json (left from an "
                      f"earlier sweep, e.g. {stale[0].name}) are not published; name them to publish them")
    missing = [f for f in listed if not f.is_file()]
    if missing:
        warnings.warn(f"{folder}: {len(missing)} cell(s) of its sweep.json have no results file (failed or not run, "
                      f"e.g. {missing[0].name}); finish the sweep to include them")
    return [f for f in listed if f.is_file()]


def sweep_cells(folder: Path) -> list[Path] | None:
    """The results files `folder/sweep.json` lists (the cells of the folder's last sweep), None
    without one; a sweep.json that is not one is a one-line error."""
    from fsbench.names import inside
    from fsbench.record.document import read_json

    summary = folder / "sweep.json"
    if not os.path.lexists(summary):
        return None
    doc = read_json(summary, "sweep summary", "", f"remove it or re-run the sweep into {folder}")
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) and isinstance(c.get("results"), str) for c in cells):
        raise ResultsError(f"sweep summary {summary} lists no cells with results files; remove it or re-run the sweep into {folder}")
    return [inside(folder, c["results"], f"{summary}: a cell's results file") for c in cells]


def over_seeds(entry: dict[str, Any], docs: list[dict[str, Any]], sources: list[str]) -> dict[str, Any]:
    """`entry` (made from docs[0]) turned into the entry of all `docs`, one per seed."""
    seeds = [d["protocol"]["seed"] for d in docs]
    if len(set(seeds)) != len(seeds):
        raise ResultsError(f"{', '.join(sources)}: seed {seeds} repeats; give each seed once")
    for doc, source in zip(docs[1:], sources[1:]):
        if entry_key(doc) != entry_key(docs[0]):
            differ = [f"{a}.{b}" for a, b in SAME if doc[a].get(b) != docs[0][a].get(b)]
            raise ResultsError(f"{source} is not the same entry as {sources[0]} (differs in {', '.join(differ)}); "
                               "publish it separately")
    rows = [r for d in docs for r in d["episodes"]]
    pooled = summaries_from_rows({"protocol": {"seed": seeds[0]}, "episodes": rows})
    metrics = {}
    for key, summary in pooled.items():
        per_seed = [d["metrics"][key] for d in docs]
        at_s = [[r for r in d["episodes"] if shot_key(r["shots"]) == key] for d in docs]
        metrics[key] = {
            "top1": {**summary["top1"], "ci95": seeds_ci(at_s, "top1_correct", seeds[0]),
                     "seeds": spread([m["top1"]["mean"] for m in per_seed], seeds)},
            "top2": {**summary["top2"], "ci95": seeds_ci(at_s, "top2_correct", seeds[0]),
                     "seeds": spread([m["top2"]["mean"] for m in per_seed], seeds)},
            "n_queries": summary["n_queries"],
            "n_episodes": summary["n_episodes"],
            "no_detection": int(sum(m.get("no_detection", 0) for m in per_seed)),
            "per_signer_top1": {s: v["top1"] for s, v in summary["per_signer"].items()},
        }
    manifest = dict(entry["manifest"])
    manifest["wall_time_s"] = round(sum(d["timings"]["total_s"] for d in docs), 3)
    manifest["seeds"] = [{
        "seed": d["protocol"]["seed"], "split_manifest_sha256": d["split"]["manifest_sha256"],
        "episodes_sha256": d["protocol"]["episodes_sha256"], "git_commit": d["fsbench"]["git_commit"],
        "wall_time_s": d["timings"]["total_s"],
    } for d in docs]
    return {**entry, "metrics": dict(sorted(metrics.items(), key=lambda kv: shots_in(kv[0]))),
            "manifest": manifest, "seeds": seeds}


def spread(values: list[float], seeds: list[int]) -> dict[str, Any]:
    v = np.asarray(values, float)
    return {"n": len(v), "mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "values": {str(s): float(x) for s, x in zip(seeds, v)}}


def spread_text(mean_ci: dict[str, Any]) -> str:
    """' ±0.8' (sd over seeds, in points) for an entry aggregated over seeds, else ''."""
    seeds = mean_ci.get("seeds")
    return f" ±{100 * seeds['std']:.1f}" if seeds and seeds.get("n", 1) > 1 else ""


def seeds_note(entry: dict[str, Any]) -> tuple[int, str]:
    """(seeds the entry pools, why only one: "trains nothing" | "one seed" | "")."""
    n = len(entry.get("seeds") or [entry["manifest"]["seed"]])
    if n > 1:
        return n, ""
    return 1, "trains nothing" if entry["method"].get("trains") is False else "one seed"


def legend(board: dict[str, Any]) -> str:
    """What ± and the CI mean, for boards that hold an entry aggregated over seeds."""
    multi = [e for e in board["entries"] if len(e.get("seeds", [])) > 1]
    if not multi:
        return ""
    counts = ", ".join(sorted({str(len(e["seeds"])) for e in multi}))
    return f" · ± = sd over seeds ({counts} seeds); their CI resamples seeds, then signers, then episodes"
