"""What the evaluator checks before it trusts a request or a plugin's output.

A request that cannot mean what it says (`--ways 1`, `--seed -1`, S larger than every class) is
refused before any training, and a method that breaks the `fsbench.api.Method` contract (numpy
or 3-D embeddings, an (N, 0) embedding, a wrong-length `valid_mask`, a non-classifier) is named
in one line instead of scoring a silently wrong result or a deep traceback. A plain exception
raised inside a method's own code becomes a `MethodError` naming the method, its distribution
and the step, so the user knows whose code failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fsbench.api import Episode, Fold, LowShotClassifier, Method
from fsbench.errors import FsbenchError, ProtocolError, os_cause
from fsbench.limits import MAX_EPISODE_ROWS, MAX_EPISODES, MAX_SEED
from fsbench.progress import console

if TYPE_CHECKING:
    from fsbench.data.dataset import FsDataset


class MethodError(FsbenchError):
    """A method plugin broke its contract or failed inside its own code."""


def who(method: Method) -> str:
    return f"method {method.name!r} (distribution {method.distribution!r})"


def _count(value: Any) -> bool:
    """An int that is not a bool (True would be one episode, S=1 or seed 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_request(request: Any) -> None:
    """Every field of a run request (`fsbench.evaluation.runner.RunRequest`) typed and in range,
    checked before the method is even built. The CLI's click types cover its flags; the Python API
    and sweep cells pass values straight through, where `cross_condition="no"` ran cross-condition,
    `dev="no"` a development run, `episodes=True` one episode and `episodes="2"` was blamed as
    "not ≥ 1"."""
    for key in ("method", "dataset", "split"):
        value = getattr(request, key)
        if not isinstance(value, str) or not value.strip():
            raise ProtocolError(f"{key} must be a name (text), not {type(value).__name__} {str(value)[:40]!r}")
    for key in ("cross_condition", "dev", "deterministic"):
        value = getattr(request, key)
        if not isinstance(value, bool):
            raise ProtocolError(f"{key} must be True or False, not {type(value).__name__} {str(value)[:40]!r}")
    if not isinstance(request.config, dict):
        raise ProtocolError(f"config must be a dict of KEY: VALUE overrides, not {type(request.config).__name__}")
    shots, episodes, seed, ways = request.shots, request.episodes, request.seed, request.ways
    if not isinstance(shots, list) or not shots or any(not _count(s) or s < 0 for s in shots):
        raise ProtocolError("--shots must be integers ≥ 0, e.g. 0,1,4")
    if not _count(episodes):
        raise ProtocolError(f"--episodes must be an integer ≥ 1, not {episodes!r}")
    if episodes < 1:
        raise ProtocolError(f"--episodes must be ≥ 1, not {episodes}")
    if episodes > MAX_EPISODES:
        raise ProtocolError(f"--episodes {episodes:,} is more than any dataset can draw; use at most {MAX_EPISODES:,}")
    if not _count(seed) or not 0 <= seed <= MAX_SEED:
        raise ProtocolError(f"--seed must be an integer from 0 to {MAX_SEED} (32 bits), not {seed!r}")
    if ways is not None and not _count(ways):
        raise ProtocolError(f"--ways must be an integer ≥ 2 or None (every test class), not {ways!r}")
    if ways is not None and ways < 2:
        raise ProtocolError(f"--ways {ways}: an episode needs at least 2 classes to tell apart; use --ways 2 or more")


def check_plan(plan: dict[int, list[Episode]], data: "FsDataset", folds: list[Fold]) -> None:
    """Refuse an S at which every class of every episode is capped: that is not S-shot.

    Under the small-class policy such an S silently becomes leave-one-out with every class
    capped, and the results would still say "S=1000".
    """
    for shots, episodes in plan.items():
        if shots == 0 or not episodes:
            continue
        if all(ep.capped_classes >= len(ep.classes) for ep in episodes):
            most = largest_class(data, folds)
            what = (f"--shots {shots}: no test class of {data.name} holds more than {most} images per "
                    f"episode group, so every class is capped at {max(most - 1, 0)} support images")
            if shots > most:  # more than any class holds: the run would not be S-shot at all
                raise ProtocolError(f"{what} (a leave-one-out run, not S={shots}); use --shots {max(most - 1, 1)} or less")
            console.print(f"warning: {what}; results record it as capped_classes", markup=False, highlight=False, soft_wrap=True)


def episode_groups(data: "FsDataset", folds: list[Fold]) -> list[np.ndarray]:
    """The rows of every episode group: each test signer of a fold, or an unseen-class fold's test rows."""
    groups = []
    for fold in folds:
        if fold.kind == "unseen-class":
            groups.append(fold.test)
        else:
            groups += [fold.test[data.signers[fold.test] == s] for s in fold.test_signers]
    return groups


def work_size(data: "FsDataset", folds: list[Fold], shots: list[int], episodes: int, ways: int | None) -> str:
    """What the run will draw, as one line; refused past `MAX_EPISODE_ROWS` before anything is sampled.

    Each episode holds at most its group's rows (support + queries), so the bound is exact enough to
    stop `--episodes 1000000000` (which would have filled memory with episode indices) up front.
    """
    sizes = [len(g) for g in episode_groups(data, folds)]
    counts = {s: 1 if s == 0 and ways is None else episodes for s in shots}
    n_eps = sum(counts.values()) * len(sizes)
    rows = sum(counts.values()) * sum(sizes)
    what = (f"{len(folds)} fold(s), {len(sizes)} episode group(s) × {len(shots)} S × up to {episodes:,} episodes "
            f"= {n_eps:,} episodes over ≤ {rows:,} image indices")
    if rows > MAX_EPISODE_ROWS:
        fit = max(1, MAX_EPISODE_ROWS // max(1, sum(sizes) * len(shots)))
        raise ProtocolError(f"--episodes {episodes:,}: {what} (~{rows * 8 / 1e9:,.1f} GB); at most "
                            f"{MAX_EPISODE_ROWS:,} indices per run: use --episodes {fit:,} or fewer")
    return what


def largest_class(data: "FsDataset", folds: list[Fold]) -> int:
    """Images of the largest class within one episode group (a test signer, or an unseen-class fold)."""
    return max((int(np.bincount(data.labels[rows]).max()) for rows in episode_groups(data, folds) if len(rows)),
               default=0)


@contextmanager
def plugin_step(method: Method, step: str) -> Iterator[None]:
    """Re-raise a plain exception from `method.<step>` as one `MethodError` naming the method.

    FsbenchErrors (already one line), memory errors, OS errors with an errno (a full disk, a
    read-only cache: the environment, not the plugin) and interrupts pass through unchanged.
    """
    try:
        yield
    except (FsbenchError, MemoryError):
        raise
    except OSError as exc:
        if exc.errno is None:
            raise MethodError(f"{who(method)} failed in {step}: {type(exc).__name__}: {exc}") from exc
        raise
    except Exception as exc:
        if isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc):
            raise
        if (cause := os_cause(exc)) is not None:  # a full disk under a library's own exception
            raise cause from exc
        text = " ".join(str(exc).split())[:240]
        raise MethodError(
            f"{who(method)} failed in {step}: {type(exc).__name__}{': ' + text if text else ''}; "
            f"report it to the method's authors (--debug shows the traceback)"
        ) from exc


def check_embeddings(method: Method, emb: Any, n: int) -> torch.Tensor:
    """`emb` as a float (n, f ≥ 1) CPU tensor, or a `MethodError` saying what it was instead."""
    if not isinstance(emb, torch.Tensor):
        raise MethodError(f"{who(method)}: embed returned a {type(emb).__name__}, not a torch.Tensor of shape (N, f)")
    if emb.ndim != 2:
        raise MethodError(f"{who(method)}: embed returned a {emb.ndim}-D tensor {tuple(emb.shape)}, not (N, f)")
    if emb.shape[0] != n:
        raise MethodError(f"{who(method)} returned {emb.shape[0]} embeddings for {n} images")
    if emb.shape[1] < 1:
        raise MethodError(f"{who(method)}: embed returned ({n}, 0): embeddings need at least one dimension")
    if emb.is_complex() or emb.dtype == torch.bool:
        raise MethodError(f"{who(method)}: embed returned a {emb.dtype} tensor; return real floats")
    return emb.detach().float().cpu()


def check_valid_mask(method: Method, mask: Any, n: int) -> np.ndarray:
    """A method's `valid_mask(view)` as a bool (n,) array."""
    try:
        arr = np.asarray(mask)
    except Exception:  # noqa: BLE001 - any unconvertible object gets the same line
        arr = np.asarray(None)
    if arr.ndim != 1 or len(arr) != n or arr.dtype.kind not in "bui":
        shape = getattr(arr, "shape", "?")
        raise MethodError(f"{who(method)}: valid_mask returned {arr.dtype} shape {shape}, not {n} booleans")
    return arr.astype(bool)


def check_classifier(method: Method, clf: Any) -> LowShotClassifier:
    if not isinstance(clf, LowShotClassifier):
        raise MethodError(
            f"{who(method)}: make_classifier returned a {type(clf).__name__}, not a LowShotClassifier "
            f"(fsbench.api)"
        )
    return clf
