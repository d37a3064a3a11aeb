"""The results file: schema, provenance, validation and atomic writes.

A results file is the unit a leaderboard is built from, so it carries everything needed to
reproduce it (dataset hash, split and episode hashes, config, seed, code version, hardware).
"""

from __future__ import annotations

import json
import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import jsonschema

from fsbench import __version__
from fsbench.atomic import atomic_path
from fsbench.device import CPU, Placement, library_versions
from fsbench.errors import FsbenchError, ResultsError
from fsbench.names import UnsafePathError, read_input, read_input_text
from fsbench.record.types import ResultsDocument
from fsbench.runtime import thread_record

SCHEMA_VERSION = 2  # 2: sparse confusion counts, compact JSON (1 had dense C × C lists at indent 1)
SCHEMA_PATH = Path(__file__).parent / "schema" / "results.schema.json"


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def validate(results: dict[str, Any], source: str = "results") -> None:
    """Raise a one-line ResultsError naming the first schema violation and where it is."""
    validator = jsonschema.Draft202012Validator(schema())
    error = next(iter(sorted(validator.iter_errors(results), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "<top level>"
        raise ResultsError(f"{source} is not valid fsbench results at {where}: {error.message[:200]}")


def write_json_atomic(path: Path, obj: Any) -> None:
    """JSON through the one atomic writer: never a torn file, NaN refused."""
    with atomic_path(path, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=False, allow_nan=False)
        fh.write("\n")


def write_compact(fh: IO[str], obj: dict[str, Any]) -> None:
    """One line per top-level key, nothing indented below it: a results file is read by programs
    (and diffed by key in git), and a per-row indent made Omniglot files 180 000 lines long."""
    fh.write("{")
    for i, (key, value) in enumerate(obj.items()):
        fh.write(("," if i else "") + "\n" + json.dumps(key) + ":" + json.dumps(value, separators=(",", ":"), allow_nan=False))
    fh.write("\n}\n")


def write_results(path: Path, results: ResultsDocument | dict[str, Any]) -> None:
    validate(results, str(path))
    with atomic_path(path, "w") as fh:
        write_compact(fh, results)


def upgrade(results: dict[str, Any], source: str = "results") -> dict[str, Any]:
    """A schema-1 document as schema 2 (dense confusion lists → sparse cells); others unchanged.
    A dense confusion that is not a square matrix of counts is one line, never a numpy error."""
    import numpy as np

    from fsbench.record.stats import sparse_confusion

    if results.get("schema_version") != 1 or not isinstance(results.get("metrics"), dict):
        return results
    for key, shot in results["metrics"].items():
        if isinstance(shot, dict) and isinstance(shot.get("confusion"), list):
            dense = shot["confusion"]
            if not (len(dense) >= 2 and all(isinstance(row, list) and len(row) == len(dense) for row in dense)
                    and all(type(c) is int and 0 <= c < 2**53 for row in dense for c in row)):
                raise ResultsError(f"{source} (schema 1) has a confusion at metrics/{str(key)[:20]!r} that is not a square "
                                   "matrix of counts; re-create it with `fsbench run`")
            shot["confusion"] = sparse_confusion(np.asarray(dense, dtype=np.int64))
    results["schema_version"] = SCHEMA_VERSION
    return results


class DuplicateKeyError(ValueError):
    """A JSON object that names one key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(f"key {key[:40]!r} appears twice in one object")
        seen[key] = value
    return seen


def parse_json(text: str) -> Any:
    """`json.loads` for files a person may have edited: an object that names a key twice is a
    ValueError, since readers disagree on which copy counts (Python takes the last, a reviewer
    reads the first), so a forged value could hide behind an honest one. Every error is a
    ValueError (a number past Python's 4300-digit limit too) or a RecursionError."""
    return json.loads(text, object_pairs_hook=_unique_keys)


def read_json(path: Path, what: str, missing: str, corrupt: str) -> Any:
    """A JSON file's content; each way of failing is one line naming `what` and its fix
    (`missing`: when there is no file; `corrupt`: when it is not JSON, names a key twice, holds an
    integer of more than 4300 digits, or is nested too deep)."""
    try:
        return parse_json(read_input_text(path, what))
    except FileNotFoundError:
        raise ResultsError(f"{what} {path} does not exist; {missing}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError and int limits are ValueErrors
        raise ResultsError(f"{what} {path} is corrupt, not valid JSON ({type(exc).__name__}: {exc}); {corrupt}") from None
    except OSError as exc:
        raise ResultsError(f"{what} {path} cannot be read ({exc.strerror}); check the path") from None
    except UnsafePathError as exc:  # a FIFO, a device, a loop, a huge file: the input rule's line
        raise ResultsError(str(exc)) from None


def read_results(path: Path) -> ResultsDocument:
    """Load and validate a results file (schema 1 files are upgraded in memory); corrupt or
    invalid files get a one-line error."""
    path = Path(path)
    results = read_json(path, "results file", f"run `fsbench run ... --out {path}`", "re-run `fsbench run`")
    if not isinstance(results, dict):
        raise ResultsError(f"results file {path} is not a JSON object; re-run `fsbench run`")
    results = upgrade(results, str(path))
    validate(results, str(path))
    return results


def is_results_file(path: Path) -> bool:
    """A JSON object with the keys every results schema has (boards and other JSON are not)."""
    try:
        doc = json.loads(read_input(path, "results file"))
    except (OSError, ValueError, RecursionError, FsbenchError):
        return False
    return isinstance(doc, dict) and {"schema_version", "metrics", "episodes"} <= doc.keys()


def git_state() -> tuple[str, bool]:
    """(commit, dirty) of the fsbench checkout, or ('unknown', False) outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return (commit or "unknown"), bool(dirty)


def hardware(placement: Placement = CPU) -> dict[str, Any]:
    """The machine, and where on it the run computed: device (cpu, cuda:N, mps), its name, precision."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        # threads, usable cores (affinity, cgroup quota), cpu_count, thread and OpenMP wait policy
        **thread_record(),
        **placement.describe(),
        "platform": platform.platform(),
    }


def libraries(placement: Placement = CPU) -> dict[str, str]:
    out = {"python": platform.python_version(), **library_versions(placement)}
    for name in ("torch", "torchvision", "numpy", "datasets", "timm", "onnxruntime", "mediapipe"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance(placement: Placement = CPU) -> dict[str, Any]:
    commit, dirty = git_state()
    return {
        "schema_version": SCHEMA_VERSION,
        "fsbench": {"version": __version__, "git_commit": commit, "git_dirty": dirty},
        "hardware": hardware(placement),
        "libraries": libraries(placement),
    }
