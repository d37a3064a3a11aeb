"""Moved to `fsbench.record.integrity` (checks of one document) and `fsbench.boards.admission`
(what a board admits); this alias warns and goes away in fsbench 0.2.0."""

from fsbench.deprecated import moved_module

__getattr__ = moved_module(__name__, "fsbench.record.integrity", "fsbench.boards.admission")
