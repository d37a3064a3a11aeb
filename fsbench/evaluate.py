"""Moved to `fsbench.evaluation.runner` (the supported way is `fsbench.run`, docs/python-api.md).
These names keep working, with a DeprecationWarning, until fsbench 0.2.0."""

from fsbench.deprecated import forward

__getattr__ = forward(__name__, dict.fromkeys(("make_method", "run", "RunRequest"), "fsbench.evaluation.runner"))
