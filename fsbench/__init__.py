"""fsbench: a benchmark toolkit for signer-independent, low-shot fingerspelling recognition.

The public API (docs/python-api.md) is what this package exports at its top:

    import fsbench
    r = fsbench.run(method="pixels", dataset="omniglot", split="unseen-class", shots=[1], ways=5, episodes=3)
    r.top1(1), r.ci(1)

`run`, `load_dataset`, `prepare`, `push`, `get`, `list`, `publish`, `leaderboard`, the
`Results` record and `FsbenchError` (every one-line error). They are loaded on first use
(PEP 562), so `import fsbench` imports nothing heavy; every other module is internal.
"""

from __future__ import annotations

from typing import Any

from fsbench.errors import FsbenchError

__version__ = "0.1.0"

_API = ("run", "load_dataset", "prepare", "push", "get", "list", "publish", "leaderboard", "Published")
__all__ = [*_API, "Results", "FsbenchError", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        from fsbench import python_api

        return getattr(python_api, name)
    if name == "Results":
        from fsbench.record.results import Results

        return Results
    raise AttributeError(f"module 'fsbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
