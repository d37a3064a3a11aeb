"""Moved public names keep working for one release and say where they went (DeprecationWarning).

A script written against an old path (`fsbench.data.store.load_prepared`, `fsbench.evaluate`,
`fsbench.results.*`) runs unchanged for one more release, warned once per use, and then breaks
with the warning's advice already in its log. The supported surface is `fsbench`'s top level
(docs/python-api.md); everything else is internal and may move without a shim.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: the release in which the shims go away
REMOVED_IN = "0.2.0"
_HERE = str(Path(__file__).resolve().parent)


def warn_moved(old: str, new: str) -> None:
    """A DeprecationWarning attributed to the caller's line (not to fsbench or the import system)."""
    warnings.warn(f"{old} moved to {new}; the old name is removed in fsbench {REMOVED_IN}",
                  DeprecationWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """warnings' stacklevel of the first frame outside fsbench's shims and the import system.

    `warnings` itself does not count importlib's bootstrap frames, so neither does this."""
    frame, level = sys._getframe(2), 2
    while frame is not None:
        name = frame.f_code.co_filename
        if "importlib" in name and "_bootstrap" in name:
            frame = frame.f_back
            continue
        shim = name == __file__ or name.startswith(f"{_HERE}/results/")  # fsbench/results/*: module shims
        if not (shim or frame.f_globals.get("__name__", "").startswith("importlib")):
            return level
        frame, level = frame.f_back, level + 1
    return level


def forward(old_module: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) serving moved `names` (name → new module) with a warning."""
    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        warn_moved(f"{old_module}.{name}", f"{target}.{name}")
        return getattr(importlib.import_module(target), name)

    return __getattr__


def moved_module(old_module: str, *targets: str) -> Callable[[str], Any]:
    """For a whole module that moved: warn now (at import) and serve every public name of `targets`."""
    warn_moved(old_module, " and ".join(targets))

    def __getattr__(name: str) -> Any:
        for target in targets:
            module = importlib.import_module(target)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {old_module!r} has no attribute {name!r} (it moved to {', '.join(targets)})")

    return __getattr__
