"""Moved to `fsbench.boards.render`; this alias warns and goes away in fsbench 0.2.0."""

from fsbench.deprecated import moved_module

__getattr__ = moved_module(__name__, "fsbench.boards.render")
